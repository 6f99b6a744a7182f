"""lambda_dist/access-analyzer-remediation.zip is reproducible and matches lambda_src (else: make package); its
bytecode is the Lambda runtime's, and that runtime's Python imports the package from it without compiling."""

from __future__ import annotations

import importlib.util
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.terraform.tfrunner import REPO_ROOT

BUILD = REPO_ROOT / "scripts" / "build_lambda_zip.py"
_spec = importlib.util.spec_from_file_location("build_lambda_zip", BUILD)
assert _spec is not None and _spec.loader is not None
build_lambda_zip = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_lambda_zip)
COMMITTED = REPO_ROOT / "lambda_dist" / "access-analyzer-remediation.zip"
SOURCE = REPO_ROOT / "lambda_src" / "access_analyzer_remediation"


def build(output: Path) -> Path:
    subprocess.run([sys.executable, str(BUILD), "--output", str(output)], check=True, capture_output=True)
    return output


def members(path: Path) -> list[tuple[str, tuple[int, ...], int, int, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, i.date_time, i.external_attr >> 16, i.compress_type, zf.read(i)) for i in zf.infolist()]


def test_same_sources_same_bytes(tmp_path: Path) -> None:
    first, second = build(tmp_path / "a.zip"), build(tmp_path / "b.zip")
    assert first.read_bytes() == second.read_bytes()
    entries = members(first)
    names = [name for name, *_ in entries]
    assert names == sorted(names)
    py = [p.relative_to(SOURCE) for p in SOURCE.rglob("*.py") if "__pycache__" not in p.parts]
    pyc = [p.parent / "__pycache__" / f"{p.stem}.cpython-313.pyc" for p in py]
    expected = sorted(f"access_analyzer_remediation/{p.as_posix()}" for p in py + pyc)
    assert names == expected
    assert {(date, mode, kind) for _, date, mode, kind, _ in entries} == {
        ((1980, 1, 1, 0, 0, 0), 0o100644, zipfile.ZIP_DEFLATED)
    }


def test_committed_zip_is_current(tmp_path: Path) -> None:
    # Compared member by member (names, contents, times, modes): the deflate bytes may differ between zlib builds.
    assert COMMITTED.is_file(), "lambda_dist/access-analyzer-remediation.zip is missing: run make package"
    assert members(COMMITTED) == members(build(tmp_path / "fresh.zip")), (
        "lambda_dist/access-analyzer-remediation.zip is stale: run make package"
    )


def test_the_bytecode_is_for_the_runtime_in_lambda_tf() -> None:
    runtime = re.search(r'runtime\s*=\s*"python(\d+)\.(\d+)"', (REPO_ROOT / "lambda.tf").read_text())
    assert runtime is not None
    assert (int(runtime[1]), int(runtime[2])) == build_lambda_zip.RUNTIME


# Run by the runtime's Python on the zip as Lambda unpacks it (read-only): every module of the package is imported
# (the handler aside: it needs Powertools), and none is compiled from source; a pyc whose hash did not match its
# .py, or of another Python, would be.
_IMPORT_ALL = r"""
import importlib, importlib.machinery, pkgutil, sys
compiled = []
original = importlib.machinery.SourceFileLoader.source_to_code
def source_to_code(self, data, path, *args, **kwargs):
    compiled.append(path)
    return original(self, data, path, *args, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = source_to_code
import access_analyzer_remediation as package
names = ["access_analyzer_remediation"] + [
    m.name for m in pkgutil.walk_packages(package.__path__, "access_analyzer_remediation.")
    if m.name != "access_analyzer_remediation.handler"
]
for name in names:
    module = importlib.import_module(name)
    assert module.__cached__ and ".cpython-313.pyc" in module.__cached__, (name, module.__cached__)
print(len(names), "compiled:", compiled)
"""


def test_the_runtime_python_imports_the_package_from_its_bytecode(tmp_path: Path) -> None:
    task = tmp_path / "task"
    with zipfile.ZipFile(COMMITTED) as zf:
        zf.extractall(task)
    for path in task.rglob("*"):
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    done = subprocess.run(
        [build_lambda_zip.runtime_python(), "-s", "-c", _IMPORT_ALL],
        cwd=task,
        env={"PYTHONPATH": str(task), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    for path in task.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert done.returncode == 0, done.stderr
    count, _, compiled = done.stdout.strip().partition(" compiled: ")
    assert compiled == "[]", f"compiled from source instead of the zip's bytecode: {compiled}"
    assert int(count) == len([p for p in SOURCE.rglob("*.py") if "__pycache__" not in p.parts]) - 1  # the handler


def test_a_stale_pyc_is_not_used(tmp_path: Path) -> None:
    """Checked-hash bytecode: a .py edited in place (the console's editor) is compiled, not shadowed by its pyc."""
    task = tmp_path / "task"
    with zipfile.ZipFile(COMMITTED) as zf:
        zf.extractall(task)
    edited = task / "access_analyzer_remediation" / "subscription.py"
    edited.write_text(edited.read_text() + "\nEDITED = True\n")
    done = subprocess.run(
        [
            build_lambda_zip.runtime_python(),
            "-s",
            "-c",
            "from access_analyzer_remediation import subscription; print(subscription.EDITED)",
        ],
        cwd=task,
        env={"PYTHONPATH": str(task), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "True"), done.stderr
