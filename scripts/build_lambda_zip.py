#!/usr/bin/env python3
"""Build lambda_dist/access-analyzer-remediation.zip reproducibly: same sources, same bytes.

Only the package's *.py files (sorted, no __pycache__), fixed timestamps (1980-01-01), mode 0644, deflate.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "access_analyzer_remediation"
SOURCE = ROOT / "lambda_src" / PACKAGE
TARGET = ROOT / "lambda_dist" / "access-analyzer-remediation.zip"
EPOCH = (1980, 1, 1, 0, 0, 0)


def sources(package_dir: Path) -> list[Path]:
    """Every *.py file of the package, outside __pycache__, in a stable order."""
    files = [p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(package_dir).as_posix())


def build(package_dir: Path, target: Path) -> Path:
    """Write the zip to `target` and return it."""
    files = sources(package_dir)
    if not files:
        raise SystemExit(f"no *.py files under {package_dir}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            info = zipfile.ZipInfo(f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}", EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = (0o100644 & 0xFFFF) << 16
            zf.writestr(info, path.read_bytes(), compresslevel=9)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=SOURCE, help="package directory (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=TARGET, help="zip to write (default: %(default)s)")
    args = parser.parse_args(argv)
    out = build(args.source, args.output)
    print(f"wrote {out} ({out.stat().st_size} bytes, {len(sources(args.source))} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
