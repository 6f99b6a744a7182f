#!/usr/bin/env python3
"""Build lambda_dist/access-analyzer-remediation.zip reproducibly: same sources, same bytes.

The package's *.py files (sorted, no stray __pycache__) and, beside each, its bytecode for the Lambda runtime's
Python (python3.13, lambda.tf): `__pycache__/<module>.cpython-313.pyc`, compiled by a Python 3.13 interpreter with
checked-hash invalidation (the pyc carries a hash of its source, no timestamp: Python checks it against the .py it
sits beside and compiles the source instead if they differ; /var/task is read-only, so a zip without bytecode has
every cold start compile the whole package, some 55 ms). Fixed timestamps (1980-01-01), mode 0644, deflate.

The interpreter: $AAR_LAMBDA_PYTHON, else `python3.13` on PATH, else a pyenv 3.13; none is an error.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "access_analyzer_remediation"
SOURCE = ROOT / "lambda_src" / PACKAGE
TARGET = ROOT / "lambda_dist" / "access-analyzer-remediation.zip"
EPOCH = (1980, 1, 1, 0, 0, 0)
RUNTIME = (3, 13)  # lambda.tf's runtime, python3.13
CACHE_TAG = f"cpython-{RUNTIME[0]}{RUNTIME[1]}"
# Compiled in a fresh directory named as the Lambda runtime's code directory, with a fixed hash seed: the bytecode
# depends on the sources only (file names inside it are /var/task/..., as on Lambda).
_COMPILE = r"""
import compileall, importlib.util, sys
root, magic = sys.argv[1], sys.argv[2]
assert importlib.util.MAGIC_NUMBER.hex() == magic, importlib.util.MAGIC_NUMBER.hex()
ok = compileall.compile_dir(root, ddir="/var/task", quiet=2, workers=1,
                            invalidation_mode=__import__("py_compile").PycInvalidationMode.CHECKED_HASH)
sys.exit(0 if ok else 1)
"""


class NoRuntimePython(SystemExit):
    pass


def sources(package_dir: Path) -> list[Path]:
    """Every *.py file of the package, outside __pycache__, in a stable order."""
    files = [p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(package_dir).as_posix())


def runtime_python() -> str:
    """A Python of the Lambda runtime's version, to compile the bytecode with."""
    wanted = f"{RUNTIME[0]}.{RUNTIME[1]}"
    candidates = [os.environ.get("AAR_LAMBDA_PYTHON", ""), shutil.which(f"python{wanted}") or ""]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted((str(p) for p in pyenv.glob(f"{wanted}.*/bin/python{wanted}")), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run(  # noqa: S603 - a Python interpreter the developer named or installed
            [candidate, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0 and tuple(int(x) for x in probe.stdout.split()) == RUNTIME:
            return candidate
    raise NoRuntimePython(
        f"no Python {wanted} to compile the Lambda's bytecode with (the runtime is python{wanted}): "
        f"install one, or set AAR_LAMBDA_PYTHON to its path"
    )


# The magic number of CPython 3.13's bytecode (importlib.util.MAGIC_NUMBER), the same for every 3.13 release.
MAGIC_313 = "f30d0d0a"


def bytecode(package_dir: Path, files: list[Path]) -> dict[str, bytes]:
    """{zip path: pyc bytes} for `files`, compiled by the runtime's Python."""
    python = runtime_python()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / package_dir.name
        for path in files:
            target = copy / path.relative_to(package_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")} | {"PYTHONHASHSEED": "0"}
        done = subprocess.run(  # noqa: S603 - the runtime Python found above, on a copy of our sources
            [python, "-s", "-c", _COMPILE, str(copy), MAGIC_313], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise SystemExit(f"{python} could not compile the package: {done.stderr.strip() or done.stdout.strip()}")
        result: dict[str, bytes] = {}
        for path in files:
            relative = path.relative_to(package_dir)
            pyc = copy / relative.parent / "__pycache__" / f"{path.stem}.{CACHE_TAG}.pyc"
            result[f"{package_dir.name}/{(relative.parent / '__pycache__' / pyc.name).as_posix()}"] = pyc.read_bytes()
        return result


def build(package_dir: Path, target: Path) -> Path:
    """Write the zip to `target` and return it."""
    files = sources(package_dir)
    if not files:
        raise SystemExit(f"no *.py files under {package_dir}")
    entries = {f"{package_dir.name}/{p.relative_to(package_dir).as_posix()}": p.read_bytes() for p in files}
    entries.update(bytecode(package_dir, files))
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = (0o100644 & 0xFFFF) << 16
            zf.writestr(info, entries[name], compresslevel=9)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=SOURCE, help="package directory (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=TARGET, help="zip to write (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        out = build(args.source, args.output)
    except NoRuntimePython as err:
        print(f"error: {err.code}", file=sys.stderr)
        return 2
    with zipfile.ZipFile(out) as zf:
        count = len(zf.namelist())
    print(f"wrote {out} ({out.stat().st_size} bytes, {count} files: sources and {CACHE_TAG} bytecode)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
