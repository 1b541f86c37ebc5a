"""Static scans of infra/template.yaml: cfn-lint without errors, checkov without failed checks.

A checkov finding may be suppressed only in the template, on the resource, with its reason
(``Metadata: checkov: skip: - id: CKV_AWS_XX  comment: why``); the reasons are checked for substance here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.cfn import TEMPLATE_PATH, load_template

BIN = Path(sys.executable).parent
ROOT = TEMPLATE_PATH.parent.parent


def _start(tool: str, *args: str) -> subprocess.Popen[str]:
    executable = BIN / tool
    assert executable.exists(), f"{executable} is missing; install the dev extras: pip install -e '.[dev]'"
    return subprocess.Popen(
        [str(executable), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )


@pytest.fixture(scope="module")
def scans() -> dict[str, tuple[int, str, str]]:
    """cfn-lint and checkov, run once per module and side by side (checkov takes seconds to start)."""
    running = {
        "cfn-lint": _start("cfn-lint", "--format", "json", str(TEMPLATE_PATH)),
        "checkov": _start(
            "checkov",
            "--file",
            str(TEMPLATE_PATH),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--skip-download",  # no network: otherwise it fetches guideline links from its vendor's API
            "--compact",
        ),
    }
    results = {}
    for tool, process in running.items():
        stdout, stderr = process.communicate(timeout=120)
        results[tool] = (process.returncode, stdout, stderr)
    return results


@pytest.fixture(scope="module")
def checkov_report(scans: dict[str, tuple[int, str, str]]) -> dict[str, Any]:
    code, stdout, stderr = scans["checkov"]
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov did not produce JSON (exit {code}):\n{stderr[-3000:]}")


def test_cfn_lint_reports_no_errors(scans: dict[str, tuple[int, str, str]]) -> None:
    code, stdout, stderr = scans["cfn-lint"]
    try:
        matches = json.loads(stdout or "[]")
    except json.JSONDecodeError:
        pytest.fail(f"cfn-lint did not produce JSON (exit {code}):\n{stderr[-3000:]}")
    errors = [m for m in matches if m["Level"] == "Error"]
    assert not errors, "\n".join(
        f"{m['Rule']['Id']} line {m['Location']['Start']['LineNumber']}: {m['Message']}" for m in errors
    )


def test_checkov_finds_no_failed_check(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] == len(load_template()["Resources"])
    failed = checkov_report["results"]["failed_checks"]
    assert not failed, (
        "checkov failed checks (fix them, or suppress in the resource's Metadata with a reason):\n"
        + "\n".join(f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in failed)
    )


def test_every_checkov_suppression_is_justified(checkov_report: dict[str, Any]) -> None:
    skipped = checkov_report["results"]["skipped_checks"]
    assert checkov_report["summary"]["passed"] > 0
    for check in skipped:
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        assert reason != "No comment provided" and len(reason.split()) >= 12, (
            f"{check['check_id']} on {check['resource']} is suppressed without a real reason: {reason!r}"
        )


def test_suppressions_live_on_the_resource_they_excuse() -> None:
    """Suppressions are per resource: no global skip list that could hide a new resource's finding."""
    assert not (ROOT / "infra" / "checkov.yaml").exists() and not (ROOT / ".checkov.yaml").exists()
    for logical_id, resource in load_template()["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip.get("id", "").startswith("CKV_"), f"{logical_id}: malformed checkov skip {skip}"
