"""lambda_dist/access-analyzer-remediation.zip is reproducible and matches lambda_src (else: make package)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.terraform.tfrunner import REPO_ROOT

BUILD = REPO_ROOT / "scripts" / "build_lambda_zip.py"
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
    expected = sorted(
        f"access_analyzer_remediation/{p.relative_to(SOURCE).as_posix()}"
        for p in SOURCE.rglob("*.py")
        if "__pycache__" not in p.parts
    )
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
