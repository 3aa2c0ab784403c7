"""The systemd units in deploy/systemd: valid for systemd, and running the same commands as
the README's production section."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from quote_service.config import PROJECT_ROOT

UNITS = sorted((PROJECT_ROOT / "deploy" / "systemd").glob("*.service"))
INSTALL_ROOT = "/srv/quote-service/.venv/bin/"


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path)
    return parser


def test_there_is_a_unit_for_the_web_server_and_each_worker_layout():
    assert [p.name for p in UNITS] == ["quote-service-delivery.service",
                                       "quote-service-documents.service",
                                       "quote-service-web.service"]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_a_command_of_the_readme(path):
    command = unit(path)["Service"]["ExecStart"]
    assert command.startswith(INSTALL_ROOT)
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert command.removeprefix(INSTALL_ROOT) in readme


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_each_unit_restarts_on_failure_and_stops_gracefully(path):
    service = unit(path)["Service"]
    assert service["Restart"] == "on-failure" and service["KillSignal"] == "SIGTERM"
    if "procrastinate" in service["ExecStart"]:
        # SIGTERM to the worker alone (it stops its LibreOffice itself), SIGKILL to the rest
        # only after the stop timeout, which outlasts a conversion or a send.
        assert service["KillMode"] == "mixed" and int(service["TimeoutStopSec"]) >= 60


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not found")
@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_systemd_accepts_each_unit(path):
    result = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True,
                            text=True, timeout=60, check=False)
    complaints = [line for line in (result.stdout + result.stderr).splitlines()
                  if line.strip() and INSTALL_ROOT not in line]
    assert complaints == []
