"""Pausing a queue with real workers: the job it is running finishes, no new job of that queue
starts, not even after the worker restarts, and resuming wakes it at once. Driven with the
real `quote-service queues` command."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.samples import sample_payload
from tests.support.outages import gated_soffice, wait_for
from tests.support.stack import BIN, Stack

pytestmark = pytest.mark.acceptance


def queues(stack: Stack, *args: str) -> str:
    result = subprocess.run([str(BIN / "quote-service"), "queues", *args], env=stack.env,
                            capture_output=True, text=True, timeout=30, check=True)
    return result.stdout


def status(stack: Stack, created: dict) -> str:
    return stack.get(created["links"]["self"])[1]["status"]


def test_a_paused_queue_finishes_its_running_job_and_starts_no_other_until_resumed(
        stack, tmp_path):
    soffice, converting, release = gated_soffice(tmp_path)
    env = {"CONVERTER": "soffice", "SOFFICE_PATH": str(soffice)}
    stack.start_web()
    worker = stack.start_worker(**env)
    _, first = stack.post("/api/quotations", sample_payload())
    wait_for(converting.exists, 60, stack.all_logs)

    assert queues(stack, "pause", "documents") == "queue documents: paused\n"
    _, second = stack.post("/api/quotations", sample_payload())
    release.touch()
    stack.wait_for(first["links"]["self"], lambda q: q["status"] == "sent", 60)
    time.sleep(3)
    assert status(stack, second) == "queued"

    stack.processes.remove(worker)  # the pause outlives the worker
    worker.terminate()
    assert worker.wait(timeout=30) == 0
    stack.start_worker(name="worker-2", **env)
    time.sleep(5)
    assert status(stack, second) == "queued"
    listing = queues(stack)
    assert "documents  paused by" in listing and "(command line)" in listing

    assert queues(stack, "resume", "documents") == "queue documents: resumed\n"
    resumed = time.monotonic()
    stack.wait_for(second["links"]["self"], lambda q: q["status"] == "sent", 30)
    assert time.monotonic() - resumed < 5  # woken, not left for a poll
    assert "documents  running" in queues(stack)
