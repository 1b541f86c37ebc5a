"""The transform Lambda's zip: built deterministically from ``lambda_transform/``, content-addressed,
with its requirements vendored as wheels for Lambda's platform."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from infra.deploy.errors import DeployError

ROOT = Path(__file__).resolve().parent.parent.parent
LAMBDA_SOURCE_DIR = ROOT / "lambda_transform"
# Lambda's limit for the unzipped code of a function.
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
# Zip entries get this timestamp so that the archive depends on the content only (zip cannot go earlier).
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
# Lambda's Python runtime the vendored dependencies are resolved for (the template's Runtime is python3.11).
LAMBDA_PYTHON_VERSION = "3.11"
LAMBDA_PLATFORM = "manylinux2014_x86_64"
_EXCLUDED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")


@dataclass(frozen=True)
class LambdaPackage:
    """A built Lambda zip: its bytes, the content hash that names it, and the archive paths in it."""

    name: str
    data: bytes
    sha256: str
    files: tuple[str, ...]
    unzipped_bytes: int

    def s3_key(self, prefix: str) -> str:
        """The content-addressed key of the package under ``prefix`` (one prefix per stack)."""
        return f"{prefix}/lambda/{self.name}-{self.sha256}.zip"


def _tree_files(root: Path, arc_prefix: str) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if any(part in _EXCLUDED_DIRS for part in rel.parts) or not path.is_file():
            continue
        if path.suffix in _EXCLUDED_SUFFIXES:
            continue
        files[f"{arc_prefix}{rel.as_posix()}"] = path
    return files


def build_lambda_package(
    source_dir: Path = LAMBDA_SOURCE_DIR, *, vendor_dir: Path | None = None
) -> LambdaPackage:
    """Zip a Python package for Lambda, deterministically.

    ``source_dir`` goes into the archive under its own name (``lambda_transform/...``), so the handler is
    importable as ``lambda_transform.handler``. ``vendor_dir``, a directory of installed dependencies
    (see ``vendor_requirements``), goes to the archive root, which is on the Lambda runtime's sys.path.
    Entries are sorted, timestamped ``ZIP_TIMESTAMP`` and given mode 0644, and bytecode caches are left
    out, so the same sources give the same bytes. The hash is taken over the entries' names and contents
    (not the compressed bytes), so it does not depend on the zlib build either.
    """
    if not (source_dir / "__init__.py").is_file():
        raise DeployError(f"{source_dir} is not a Python package (no __init__.py); nothing to deploy.")
    files = _tree_files(source_dir, f"{source_dir.name}/")
    if vendor_dir is not None:
        vendored = _tree_files(vendor_dir, "")
        clash = sorted(set(vendored) & set(files))
        if clash:
            raise DeployError(f"vendored files would overwrite the package's own: {', '.join(clash[:5])}.")
        files.update(vendored)
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    unzipped = 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for arcname in sorted(files):
            content = files[arcname].read_bytes()
            unzipped += len(content)
            digest.update(arcname.encode() + b"\0" + hashlib.sha256(content).digest())
            info = zipfile.ZipInfo(arcname, date_time=ZIP_TIMESTAMP)
            info.create_system = 3  # unix, so the mode below is honoured
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content, compresslevel=9)
    if unzipped > MAX_UNZIPPED_BYTES:
        raise DeployError(
            f"the Lambda package unzips to {unzipped / 2**20:.0f} MiB, over Lambda's 250 MiB limit; "
            "trim the vendored dependencies."
        )
    return LambdaPackage(
        name=source_dir.name,
        data=buffer.getvalue(),
        sha256=digest.hexdigest(),
        files=tuple(sorted(files)),
        unzipped_bytes=unzipped,
    )


def requirements_file(source_dir: Path) -> Path | None:
    """``<source_dir>/requirements.txt`` when it lists at least one requirement, else None."""
    path = source_dir / "requirements.txt"
    if not path.is_file():
        return None
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return path if any(lines) else None


def vendor_requirements(requirements: Path, target: Path) -> None:
    """Install ``requirements`` into ``target`` as wheels built for Lambda's runtime (not this machine's).

    Binary wheels only, for ``LAMBDA_PLATFORM`` and ``LAMBDA_PYTHON_VERSION``, without bytecode, so the
    result is what the Lambda runtime can import and is reproducible for pinned requirements.
    """
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--platform",
        LAMBDA_PLATFORM,
        "--target",
        str(target),
        "--requirement",
        str(requirements),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DeployError(
            f"could not vendor {requirements} for Lambda "
            f"({LAMBDA_PLATFORM}, Python {LAMBDA_PYTHON_VERSION}):\n"
            f"{result.stderr.strip()}\nPin versions that publish wheels for that platform."
        )


def package_lambda(source_dir: Path = LAMBDA_SOURCE_DIR) -> LambdaPackage:
    """Build the deployable package: the source package plus its vendored requirements, if it has any."""
    requirements = requirements_file(source_dir)
    if requirements is None:
        return build_lambda_package(source_dir)
    with tempfile.TemporaryDirectory(prefix="sales-cdc-vendor-") as vendor:
        vendor_requirements(requirements, Path(vendor))
        return build_lambda_package(source_dir, vendor_dir=Path(vendor))
