"""No credentials in the repository, and none in what a CLI run prints or logs.

The repository scan covers git-tracked files and untracked files that are not ignored, i.e. everything
that could be committed. Key-like strings in this file are assembled at run time so that the scan does
not find its own test data.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from moto.cloudformation.parsing import get_model_map

from infra.deploy import load_template, template_subset
from local_aws.server import Emulator
from sales_cdc.commands.deploy import deploy

ROOT = Path(__file__).resolve().parents[2]
MAX_SCANNED_BYTES = 5 * 1024 * 1024

PATTERNS = {
    "AWS access key id": re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}(?![A-Z0-9])"),
    "AWS secret access key": re.compile(
        r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
    ),
    "private key": re.compile("-----BEGIN " + r"(?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
}
# AWS's own documentation example key id, used in examples everywhere and valid nowhere.
ALLOWED = {"AKIAIOSFODNN7" + "EXAMPLE"}


def find_credentials(text: str) -> list[str]:
    """Each credential-looking match in ``text`` as 'kind at line N'."""
    findings = []
    for kind, pattern in PATTERNS.items():
        for match in pattern.finditer(text):
            if match.group(0) in ALLOWED:
                continue
            findings.append(f"{kind} at line {text.count(chr(10), 0, match.start()) + 1}")
    return findings


def committable_files() -> list[Path]:
    """Tracked files plus untracked files git does not ignore."""
    result = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, f"git ls-files failed in {ROOT}: {result.stderr.decode()}"
    return [ROOT / name for name in result.stdout.decode().split("\0") if name]


def test_the_scanner_finds_each_kind_of_credential() -> None:
    key_id = "AKIA" + "Q" * 4 + "7" * 12
    secret = "wJalr" + "X" * 30 + "K/7+="
    samples = {
        "AWS access key id": f"aws_access_key_id = {key_id}",
        "AWS secret access key": f'aws_secret_access_key = "{secret}"',
        "private key": "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIE...",
        "GitHub token": "token: ghp_" + "a1" * 18,
    }
    for kind, text in samples.items():
        assert [f for f in find_credentials(text) if f.startswith(kind)], f"{kind} was not found in {text!r}"
    assert find_credentials('LOCAL_CREDENTIALS = {"aws_secret_access_key": "local"}') == []
    assert find_credentials("example: AKIAIOSFODNN7" + "EXAMPLE") == []


def test_no_credentials_in_the_repository() -> None:
    files = committable_files()
    assert any(path.name == "pyproject.toml" for path in files)
    findings = []
    for path in files:
        if not path.is_file() or path.stat().st_size > MAX_SCANNED_BYTES:
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        findings += [
            f"{path.relative_to(ROOT)}: {f}" for f in find_credentials(data.decode("utf-8", "replace"))
        ]
    assert not findings, "credentials in the repository (remove them and rotate the keys):\n" + "\n".join(
        findings
    )


def test_no_credentials_in_the_output_and_logs_of_a_deploy(
    clean_emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A deploy run with credentials of the real shape prints and logs none of them."""
    key_id = "AKIA" + "TESTONLY" + "0" * 8
    secret = "S3cr3t" + "T" * 30 + "ab/+"
    assert len(key_id) == 20 and len(secret) == 40
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("SALES_CDC_HOME", str(tmp_path / "home"))
    template = tmp_path / "template.json"
    template.write_text(json.dumps(template_subset(load_template(), get_model_map())))
    log_offset = clean_emulator.log_path.stat().st_size if clean_emulator.log_path else 0
    caplog.set_level(logging.INFO)

    result = CliRunner().invoke(
        deploy,
        ["--stack-name", "sales-cdc-scan", "--region", "us-east-1", "--endpoint-url", clean_emulator.endpoint]
        + ["--template", str(template)],
        obj={"poll_interval": 0},
    )
    assert result.exit_code == 0, result.output

    emulator_log = ""
    if clean_emulator.log_path and clean_emulator.log_path.exists():
        with clean_emulator.log_path.open("rb") as log:
            log.seek(log_offset)
            emulator_log = log.read().decode("utf-8", "replace")
    recorded = (tmp_path / "home" / "aws" / "outputs.json").read_text()
    for name, text in {
        "command output": result.output,
        "python logs": caplog.text,
        "emulator log": emulator_log,
        "recorded settings": recorded,
    }.items():
        assert key_id not in text and secret not in text, f"the {name} contains the credentials"
        assert find_credentials(text) == [], f"the {name} contains credential-like text"
