"""The transform Lambda's package: deterministic, content-addressed, complete, ready for vendored deps."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from infra.deploy import (
    LAMBDA_SOURCE_DIR,
    ZIP_TIMESTAMP,
    DeployError,
    build_lambda_package,
    check_handler,
    load_template,
    package_lambda,
    requirements_file,
)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A copy of lambda_transform/ that a test may change."""
    copy = tmp_path / "src" / LAMBDA_SOURCE_DIR.name
    shutil.copytree(LAMBDA_SOURCE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_same_code_gives_the_same_bytes_and_hash(source: Path) -> None:
    first = build_lambda_package(source)
    (source / "__pycache__").mkdir(exist_ok=True)
    (source / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"\0bytecode")
    (source / "stray.pyc").write_bytes(b"\0bytecode")
    for path in source.rglob("*.py"):
        path.touch()  # new mtimes must not matter
    second = build_lambda_package(source)
    assert second.data == first.data
    assert second.sha256 == first.sha256
    assert not [name for name in second.files if "__pycache__" in name or name.endswith(".pyc")]


def test_a_code_change_changes_the_hash_and_the_key(source: Path) -> None:
    before = build_lambda_package(source)
    handler = source / "handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    after = build_lambda_package(source)
    assert after.sha256 != before.sha256
    assert after.s3_key("prod") != before.s3_key("prod")
    assert after.s3_key("prod") == f"prod/lambda/lambda_transform-{after.sha256}.zip"


def test_archive_holds_the_package_under_its_name_with_fixed_metadata() -> None:
    package = package_lambda()
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names)
        assert "lambda_transform/__init__.py" in names
        assert "lambda_transform/handler.py" in names  # the template's Handler module
        assert all(info.date_time == ZIP_TIMESTAMP for info in infos)
        assert all((info.external_attr >> 16) & 0o777 == 0o644 for info in infos)
        assert archive.read("lambda_transform/handler.py") == (LAMBDA_SOURCE_DIR / "handler.py").read_bytes()


def test_vendored_dependencies_go_to_the_archive_root(source: Path, tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    (vendor / "somelib").mkdir(parents=True)
    (vendor / "somelib" / "__init__.py").write_text("VERSION = '1.0'\n")
    (vendor / "somelib-1.0.dist-info").mkdir()
    (vendor / "somelib-1.0.dist-info" / "METADATA").write_text("Name: somelib\n")
    plain = build_lambda_package(source)
    package = build_lambda_package(source, vendor_dir=vendor)
    assert "somelib/__init__.py" in package.files
    assert "lambda_transform/handler.py" in package.files
    assert package.sha256 != plain.sha256
    assert build_lambda_package(source, vendor_dir=vendor).data == package.data


def test_vendored_files_may_not_shadow_the_package(source: Path, tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    (vendor / "lambda_transform").mkdir(parents=True)
    (vendor / "lambda_transform" / "handler.py").write_text("")
    with pytest.raises(DeployError, match="lambda_transform/handler.py"):
        build_lambda_package(source, vendor_dir=vendor)


def test_requirements_are_vendored_only_when_some_are_listed(source: Path) -> None:
    (source / "requirements.txt").unlink(missing_ok=True)
    assert requirements_file(source) is None
    (source / "requirements.txt").write_text("# nothing yet\n\n")
    assert requirements_file(source) is None
    (source / "requirements.txt").write_text("somelib==1.0  # pinned\n")
    assert requirements_file(source) == source / "requirements.txt"


def test_handler_module_must_exist(source: Path) -> None:
    template = load_template()
    assert check_handler(template, source) == "lambda_transform.handler.handler"
    (source / "handler.py").unlink()
    with pytest.raises(DeployError, match=r"lambda_transform\.handler\.handler.*handler\.py does not exist"):
        check_handler(template, source)


def test_a_directory_without_init_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notapackage").mkdir()
    with pytest.raises(DeployError, match="not a Python package"):
        build_lambda_package(tmp_path / "notapackage")


def test_the_deploy_package_vendors_orjson_for_lambda() -> None:
    # The transform's throughput target needs orjson (bench/bench_lambda_transform.py), so the package
    # deployed to AWS must carry it, built for Lambda's platform.
    package = package_lambda()
    assert any(name.startswith("orjson/") for name in package.files)
    assert "lambda_transform/handler.py" in package.files
