"""The embedded AWS never imports the application: importing any of its modules loads neither
dagster nor ``sales_cdc`` (moto's boundary: the stand-in does not import the code under test)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter, so nothing the test session already imported can hide an import. Each
# module is imported in turn and charged with what it loaded first, so a failure names the culprit.
PROBE = textwrap.dedent(
    """
    import importlib
    import json
    import pkgutil
    import sys

    def forbidden():
        return {name for name in sys.modules if name == "dagster" or name.split(".")[0] == "sales_cdc"}

    import local_aws

    names = ["local_aws.athena"] + [
        module.name for module in pkgutil.walk_packages(local_aws.__path__, prefix="local_aws.")
    ]
    leaks = {}
    seen = forbidden()
    for name in names:
        importlib.import_module(name)
        new = forbidden() - seen
        if new:
            leaks[name] = sorted(new)
            seen |= new
    print(json.dumps({"modules": names, "leaks": leaks}))
    """
)


def test_importing_the_embedded_aws_loads_neither_dagster_nor_the_application() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout)
    assert report["leaks"] == {}, f"modules of local_aws that load dagster or sales_cdc: {report['leaks']}"
