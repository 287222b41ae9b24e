"""Add bytecode to a Lambda deployment.zip: ``python -m tools.precompile_zip build/<stage>/deployment.zip``.

Lambda's /var/task is read-only, so without .pyc files in the package every cold start compiles every
imported module (measured here: ~650 ms of imports without bytecode vs ~240 ms with it). The .pyc files are
written with ``unchecked-hash`` invalidation (no mtime check) by this Python, which must be the Lambda
runtime's minor version (3.11).
"""

from __future__ import annotations

import compileall
import os
import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path


def precompile(zip_path: Path) -> tuple[int, int, int]:
    if sys.version_info[:2] != (3, 11):
        raise SystemExit(f"precompile_zip: needs Python 3.11 (the Lambda runtime), not {sys.version.split()[0]}")
    before = zip_path.stat().st_size
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with zipfile.ZipFile(zip_path) as z:
            # chalice copies chalicelib/ as it is, __pycache__ of the developer's tree included: those are
            # timestamp-checked and possibly stale, so they are replaced by fresh ones.
            infos = [i for i in z.infolist() if not i.filename.endswith(".pyc")]
            z.extractall(root, members=infos)
        ok = compileall.compile_dir(
            str(root),
            quiet=2,
            ddir="/var/task",
            workers=0,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        out = zip_path.with_suffix(".tmp")
        count = 0
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for info in infos:
                z.writestr(info, (root / info.filename).read_bytes() if not info.is_dir() else b"")
            for pyc in sorted(root.rglob("*.pyc")):
                rel = pyc.relative_to(root).as_posix()
                zi = zipfile.ZipInfo(rel, date_time=(2026, 1, 1, 0, 0, 0))
                zi.external_attr = 0o644 << 16
                zi.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(zi, pyc.read_bytes())
                count += 1
        os.replace(out, zip_path)
    if not ok:
        print("precompile_zip: some files did not compile (left as source)", file=sys.stderr)
    return count, before, zip_path.stat().st_size


def main() -> None:
    path = Path(sys.argv[1])
    count, before, after = precompile(path)
    print(f"precompile_zip: {path}: +{count} .pyc, {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    if after > 50 * 1024 * 1024:
        raise SystemExit("precompile_zip: over Lambda's 50 MB zipped limit")


if __name__ == "__main__":
    main()
