"""Settings name exactly what is missing and how to provide it."""

from __future__ import annotations

import os
import threading

import pytest

from sales_cdc.settings import (
    SettingsError,
    load_settings,
    provisioning_lock,
    wait_for_provisioning,
    write_outputs,
)


def test_missing_outputs_are_listed_with_the_fix(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SALES_CDC_HOME", str(tmp_path))
    write_outputs({"OrdersTableName": "orders"}, "aws")
    with pytest.raises(SettingsError) as info:
        load_settings("aws")
    message = str(info.value)
    assert (
        "DataLakeBucketName" in message
        and "OrdersTableName" not in message.split("outputs:")[1].split(";")[0]
    )
    assert "sales-cdc deploy" in message


def test_unknown_deployment_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("SALES_CDC_DEPLOYMENT", "staging")
    with pytest.raises(SettingsError, match="'staging' is not a deployment"):
        load_settings()


def test_environment_overrides_single_outputs(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SALES_CDC_HOME", str(tmp_path))
    monkeypatch.setenv("SALES_CDC_OUTPUT_DATALAKEBUCKETNAME", "my-bucket")
    settings = load_settings("aws", require_outputs=False)
    assert settings.bucket == "my-bucket"
    with pytest.raises(SettingsError, match="'GlueDatabaseName'"):
        settings.output("GlueDatabaseName")


def test_the_code_location_waits_for_provisioning_in_progress(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SALES_CDC_HOME", str(tmp_path))
    lock = provisioning_lock()
    lock.parent.mkdir(parents=True)
    lock.write_text(str(os.getpid()))  # a live holder
    threading.Timer(0.3, lock.unlink).start()
    wait_for_provisioning(timeout=30)
    assert not lock.exists()  # it returned because provisioning finished, not before


def test_a_stale_provisioning_lock_is_ignored(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SALES_CDC_HOME", str(tmp_path))
    lock = provisioning_lock()
    lock.parent.mkdir(parents=True)
    lock.write_text("999999999")  # no such process
    wait_for_provisioning(timeout=30)
    assert lock.exists()


VALID_PREFIXES = {
    "RawCdcPrefix": "raw/orders_cdc/",
    "ErrorPrefix": "errors/orders_cdc/",
    "DerivedPrefix": "derived/",
    "QuarantinePrefix": "quarantine/orders_cdc/",
}


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("SALES_CDC_OUTPUT_DERIVEDPREFIX", "../", "'..' folder"),
        ("SALES_CDC_OUTPUT_ERRORPREFIX", "errors/../../raw/", "'..' folder"),
        ("SALES_CDC_OUTPUT_RAWCDCPREFIX", "/raw/orders_cdc/", "starts with '/'"),
        ("SALES_CDC_OUTPUT_QUARANTINEPREFIX", "quarantine", "does not end with '/'"),
        (
            "SALES_CDC_OUTPUT_ERRORPREFIX",
            "raw/orders_cdc/errors/",
            "is inside RawCdcPrefix='raw/orders_cdc/'",
        ),
        ("SALES_CDC_OUTPUT_QUARANTINEPREFIX", "raw/orders_cdc/bad/", "is inside RawCdcPrefix"),
        ("SALES_CDC_OUTPUT_DERIVEDPREFIX", "raw/", "must not overlap"),
    ],
)
def test_lake_prefixes_that_escape_or_overlap_are_refused_naming_the_variable(
    tmp_path, monkeypatch, variable, value, rule
) -> None:
    monkeypatch.setenv("SALES_CDC_HOME", str(tmp_path))
    write_outputs(VALID_PREFIXES, "aws")
    load_settings("aws", require_outputs=False)  # the file's own prefixes are valid
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        load_settings("aws", require_outputs=False)
    message = str(info.value)
    assert f"environment variable {variable}" in message and repr(value) in message and rule in message


def test_a_bad_prefix_in_the_outputs_file_names_the_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SALES_CDC_HOME", str(tmp_path))
    path = write_outputs({**VALID_PREFIXES, "DerivedPrefix": "derived/../../"}, "aws")
    with pytest.raises(SettingsError, match=f"outputs file {path}: DerivedPrefix='derived/../../'"):
        load_settings("aws", require_outputs=False)
