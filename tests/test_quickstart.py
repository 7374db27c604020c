"""The README quickstart works: the example shop runs a sign-up to completion."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.loopback import free_port

pytestmark = pytest.mark.realtime  # the quickstart is a real process

ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_runs_the_sign_up_flow_to_completion() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "quickstart.py"),
            "--exit",
            "--db",
            ":memory:",
            "--port",
            str(free_port()),
            "--app-port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "of shop-sign-up-flow: Completed" in out, out
    for step in ("send welcome", "auth/signup.confirmed", "nudge if unconfirmed"):
        assert step in out, step
    assert '"nudged": false' in out
    # The flow's run block re-runs on each of the run's requests; its record appears once.
    assert (out + result.stderr).count("sign-up of user u-42") == 1, out + result.stderr
