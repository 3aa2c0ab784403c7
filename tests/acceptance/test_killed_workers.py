"""Workers killed with SIGKILL at any point: every quotation still ends sent, exactly once.

The dead worker's job is found through its stale heartbeat and retried by the periodic
`retry_stalled_jobs` task of a worker that is alive. Thresholds are shortened here
(heartbeat 1 s, stale after 3 s, checked every second) so that each kill costs seconds.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from quote_service.demo import wait_until
from tests.samples import sample_payload
from tests.support.fake_sendgrid import HANG, running_fake_sendgrid

pytestmark = pytest.mark.acceptance

FAST_RECOVERY = {"WORKER_HEARTBEAT_SECONDS": "1", "STALLED_WORKER_SECONDS": "3",
                 "STALLED_CHECK_SECONDS": "1", "JOB_MAX_ATTEMPTS": "50"}


def kill(process) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def emails_per_quotation(outbox: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in outbox.glob("*.eml"):
        subject = next(line for line in path.read_text().splitlines()
                       if line.startswith("Subject:"))
        number = subject.split()[2]
        counts[number] = counts.get(number, 0) + 1
    return counts


def test_killed_during_conversion_resumes_and_sends_once(stack, settings, tmp_path):
    hung = tmp_path / "hung-soffice"
    hung.write_text("#!/bin/sh\nexec sleep 600\n")
    hung.chmod(0o755)
    stack.env.update(FAST_RECOVERY)
    stack.start_web()
    worker = stack.start_worker(SOFFICE_PATH=str(hung), CONVERTER="soffice")
    _, created = stack.post("/api/quotations", sample_payload())
    stack.wait_for(created["links"]["self"], lambda q: q["status"] == "generating")
    time.sleep(0.5)
    kill(worker)
    stack.processes.remove(worker)
    stack.start_worker(name="survivor")
    detail = stack.wait_for(created["links"]["self"], lambda q: q["status"] == "sent", 60)
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds.count("generating") == 2 and kinds.count("sent") == 1
    assert emails_per_quotation(settings.outbox_dir) == {detail["number"]: 1}
    os.system(f"pkill -f {hung}")


def test_workers_killed_at_random_points_lose_and_duplicate_nothing(stack, settings):
    """Kills land in rendering, converting, storing and sending alike: each quotation
    still gets exactly one PDF and one email."""
    rng = random.Random(20261128)
    stack.env.update(FAST_RECOVERY)
    stack.start_web()
    urls = []
    for i in range(4):
        status, created = stack.post("/api/quotations",
                                     sample_payload(notes=f"quotation {i}"))
        assert status == 202
        urls.append(created["links"]["self"])
    kills = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and kills < 8:
        worker = stack.start_worker("--concurrency", "2", name=f"worker-{kills}")
        time.sleep(rng.uniform(0.5, 3.0))
        kill(worker)
        stack.processes.remove(worker)
        kills += 1
    stack.start_worker("--concurrency", "2", name="last-worker")
    details = [stack.wait_for(url, lambda q: q["status"] == "sent", 90) for url in urls]
    numbers = sorted(d["number"] for d in details)
    assert emails_per_quotation(settings.outbox_dir) == {n: 1 for n in numbers}
    pdfs = sorted(p.name for p in settings.storage_dir.rglob("*.pdf"))
    assert pdfs == [f"{n}-v1.pdf" for n in numbers]
    for detail in details:
        assert [d["state"] for d in detail["deliveries"]] == ["accepted"]


def test_killed_while_the_provider_holds_the_request_is_never_sent_twice(stack, settings):
    """The request reached SendGrid and the worker died before the answer: the delivery is
    parked as unknown (not re-sent), then resolved by the provider's event webhook."""
    with running_fake_sendgrid() as fake:
        fake.reply_next(HANG, hang_seconds=30)
        stack.env.update(FAST_RECOVERY)
        stack.env.update({"MAIL_BACKEND": "sendgrid", "SENDGRID_API_KEY": fake.api_key,
                          "SENDGRID_API_HOST": fake.url, "SENDGRID_TIMEOUT": "60"})
        stack.start_web()
        worker = stack.start_worker()
        _, created = stack.post("/api/quotations", sample_payload())
        assert wait_until(lambda: fake.requests == 1, 60), stack.all_logs()
        kill(worker)
        stack.processes.remove(worker)
        stack.start_worker(name="survivor")
        detail = stack.wait_for(
            created["links"]["self"],
            lambda q: q["deliveries"] and q["deliveries"][0]["state"] == "unknown", 60)
        assert detail["status"] == "delivering"
        time.sleep(3)  # a later stalled-job check must not send it again either
        assert fake.requests == 1


def test_a_job_that_kills_its_worker_every_time_ends_failed(stack, tmp_path):
    """Each death is a failed attempt: after the last one the quotation is failed, naming
    the lost worker, instead of the job being retried forever."""
    killer = tmp_path / "killer-soffice"
    killer.write_text("#!/bin/sh\nkill -9 $PPID\n")  # the worker converting the document
    killer.chmod(0o755)
    stack.env.update({**FAST_RECOVERY, "JOB_MAX_ATTEMPTS": "2"})
    stack.start_web()
    stack.start_worker("--queues", "maintenance", name="maintenance-worker")
    _, created = stack.post("/api/quotations", sample_payload())
    for attempt in (1, 2):
        worker = stack.start_worker("--queues", "documents", name=f"documents-{attempt}",
                                    SOFFICE_PATH=str(killer), CONVERTER="soffice")
        assert worker.wait(timeout=60) == -signal.SIGKILL, stack.all_logs()
        stack.processes.remove(worker)
    detail = stack.wait_for(created["links"]["self"], lambda q: q["status"] == "failed", 30)
    assert detail["failed_step"] == "generate"
    assert detail["last_error"].startswith("generate: WorkerLost: worker ")
    assert detail["last_error"].endswith(" stopped sending heartbeats during attempt 2")
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds.count("generating") == 2 and kinds.count("attempt_failed") == 1
    assert kinds[-1] == "failed"
