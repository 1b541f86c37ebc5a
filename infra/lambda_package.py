"""Build the transform Lambda's deployment package: a deterministic zip of ``lambda_transform/``.

Deterministic (sorted entries, fixed timestamps and permissions) so the same code gives the same
bytes and hash: a deploy whose code did not change does not roll the function.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "lambda_transform"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def build_lambda_package(package_dir: Path = PACKAGE_DIR) -> tuple[bytes, str]:
    """Return (zip bytes, sha256 hex) of the Lambda package; only ``.py`` sources are included."""
    files = sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)
    if not files:
        raise FileNotFoundError(f"no Python sources under {package_dir}; is the checkout complete?")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(
                f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}", _FIXED_TIME
            )
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()
