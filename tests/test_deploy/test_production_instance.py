"""The example production Dagster instance (infra/production/dagster.yaml) is valid and keeps no secrets."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster_aws.ecs import EcsRunLauncher
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

INSTANCE_YAML = Path(__file__).resolve().parents[2] / "infra" / "production" / "dagster.yaml"

ENVIRONMENT = {
    "DAGSTER_POSTGRES_HOST": "dagster.cluster-abc.eu-west-1.rds.amazonaws.com",
    "DAGSTER_POSTGRES_PORT": "5432",
    "DAGSTER_POSTGRES_DB": "dagster",
    "DAGSTER_POSTGRES_USER": "dagster",
    "DAGSTER_POSTGRES_PASSWORD": "from-secrets-manager",
    "DAGSTER_POSTGRES_PASSWORD_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dagster-pg",
    "DAGSTER_RUN_CONTAINER_NAME": "dagster",
    "DAGSTER_COMPUTE_LOG_BUCKET": "sales-cdc-dagster-logs",
}


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The instance config as Dagster validates it, with the environment ECS would provide."""
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    shutil.copy(INSTANCE_YAML, tmp_path / "dagster.yaml")
    config, instance_class = dagster_instance_config(str(tmp_path))
    assert instance_class is None
    return dict(config)


def _resolved(schema: Any, config: Any) -> dict[str, Any]:
    result = process_config(schema, config)
    assert result.success, result.errors
    return result.value


def test_storage_is_postgres_over_tls_from_environment(instance: dict[str, Any]) -> None:
    from dagster._core.storage.config import pg_config

    db = _resolved(pg_config(), instance["storage"]["postgres"])["postgres_db"]
    assert db["hostname"] == ENVIRONMENT["DAGSTER_POSTGRES_HOST"]
    assert db["port"] == 5432
    assert db["password"] == ENVIRONMENT["DAGSTER_POSTGRES_PASSWORD"]
    assert db["params"] == {"sslmode": "require"}


def test_runs_launch_on_ecs_with_named_secrets(instance: dict[str, Any]) -> None:
    launcher = instance["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    config = _resolved(EcsRunLauncher.config_type(), launcher["config"])
    assert config["secrets_tag"] is None  # no secretsmanager:ListSecrets on "*"
    assert config["secrets"] == [
        {
            "name": "DAGSTER_POSTGRES_PASSWORD",
            "valueFrom": ENVIRONMENT["DAGSTER_POSTGRES_PASSWORD_SECRET_ARN"],
        }
    ]
    assert "SALES_CDC_DEPLOYMENT=aws" in config["env_vars"]


def test_compute_logs_go_to_s3_encrypted(instance: dict[str, Any]) -> None:
    logs = instance["compute_logs"]
    config = _resolved(S3ComputeLogManager.config_type(), logs["config"])
    assert config["bucket"] == ENVIRONMENT["DAGSTER_COMPUTE_LOG_BUCKET"]
    assert config["upload_extra_args"] == {"ServerSideEncryption": "AES256"}


def test_telemetry_is_off(instance: dict[str, Any]) -> None:
    assert instance["telemetry"] == {"enabled": False}


def test_every_credential_is_read_from_the_environment() -> None:
    raw = yaml.safe_load(INSTANCE_YAML.read_text())
    db = raw["storage"]["postgres"]["postgres_db"]
    for field in ("hostname", "port", "db_name", "username", "password"):
        assert set(db[field]) == {"env"}, f"postgres_db.{field} must come from an environment variable"
    assert "postgres_url" not in raw["storage"]["postgres"]  # a URL would carry the password
    for secret in raw["run_launcher"]["config"]["secrets"]:
        assert set(secret["valueFrom"]) == {"env"}, "secret ARNs come from the environment too"


def test_a_missing_secret_is_an_error_not_a_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster._core.storage.config import pg_config

    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_POSTGRES_PASSWORD")
    shutil.copy(INSTANCE_YAML, tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    result = process_config(pg_config(), config["storage"]["postgres"])
    assert not result.success
    assert "DAGSTER_POSTGRES_PASSWORD" in str(result.errors)
