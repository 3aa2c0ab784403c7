"""Workers killed with SIGKILL at any point: every quotation still ends sent, exactly once.

The dead worker's job is found through its stale heartbeat and retried by the stalled-job
check that workers that are alive run. Thresholds are shortened here
(heartbeat 1 s, stale after 3 s, checked every second) so that each kill costs seconds.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
import random
import signal
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from quote_service.demo import http_json, wait_until
from tests.samples import sample_payload
from tests.support.fake_sendgrid import HANG, running_fake_sendgrid
from tests.support.gcs_emulator import emulator_process, precondition_proxy
from tests.support.processes import descendants

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


def attached_pdf(outbox: Path) -> bytes:
    """The PDF attached to the one email in the outbox."""
    [path] = outbox.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    [attachment] = message.iter_attachments()
    return attachment.get_content()


def assert_resumed_once(detail: dict) -> None:
    """Two generate attempts, the first lost with its worker, then one email sent."""
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds.count("generating") == 2 and kinds.count("sent") == 1, kinds
    assert kinds[-1] == "sent", kinds
    [failed] = [e for e in detail["events"] if e["kind"] == "attempt_failed"]
    assert failed["detail"]["error"].startswith("WorkerLost: worker ")
    assert [d["state"] for d in detail["deliveries"]] == ["accepted"]


def counting_soffice(folder: Path) -> tuple[Path, Path]:
    """A `SOFFICE_PATH` that runs the real soffice, adding a line to a file per conversion."""
    count, script = folder / "conversions", folder / "counting-soffice"
    script.write_text(f'#!/bin/sh\necho >> {count}\nexec soffice "$@"\n')
    script.chmod(0o755)
    return script, count


def test_killed_while_rendering_resumes_and_sends_once(stack, settings, tmp_path):
    """Killed while rendering the DOCX, before any LibreOffice started.

    Nothing in the code marks the render, so the quotation is made slow to render within the
    API's limits: 200 lines (the most it accepts) whose descriptions hold 500 tabs each.
    docxtpl turns each tab into runs of its own and lxml then takes about 1.5 s to put that
    body into the document: rendering takes about 2 s on a 2-core machine (30 ms for a usual
    quotation), converting it about 3 s. The kill follows the `generating` status by one poll
    (0.05 to 0.2 s after it, measured), well inside those 2 s; a traceback dump of the worker
    at that moment showed it in docxtpl's render. The worker is stopped (SIGSTOP) before it
    is looked at, so what is checked is what it was doing when killed: no child process
    (soffice not yet started), no conversion, no PDF stored.

    The render holds the GIL (lxml), so the worker's heartbeat waits for it: the silence
    after which a worker counts as dead is 5 s here rather than 3, or the survivor, rendering
    the same quotation, could be taken for dead itself.
    """
    lines = [{"description": "x" + "\t" * 500 + "x", "quantity": str(i % 5 + 1),
              "unit_price": "12.50", "tax_rate": "20", "discount_pct": "0"} for i in range(200)]
    script, conversions = counting_soffice(tmp_path)
    stack.env.update({**FAST_RECOVERY, "STALLED_WORKER_SECONDS": "5", "SOFFICE_PATH": str(script)})
    stack.start_web()
    worker = stack.start_worker()
    status, created = stack.post("/api/quotations", sample_payload(lines=lines))
    assert status == 202, created
    url = created["links"]["self"]
    stack.wait_for(url, lambda q: q["status"] == "generating")
    os.killpg(worker.pid, signal.SIGSTOP)
    children = [p.command for p in descendants(worker.pid).values()]
    stored = list(settings.storage_dir.rglob("*.pdf"))
    kill(worker)
    stack.processes.remove(worker)
    assert (children, stored, conversions.exists()) == ([], [], False), "killed after rendering"

    stack.start_worker(name="survivor")
    detail = stack.wait_for(url, lambda q: q["status"] == "sent", 60)
    assert_resumed_once(detail)
    assert len(conversions.read_text().splitlines()) == 1
    [pdf] = settings.storage_dir.rglob("*.pdf")
    assert pdf.name == f"{detail['number']}-v1.pdf"
    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == detail["pdf"]["sha256"]
    assert emails_per_quotation(settings.outbox_dir) == {detail["number"]: 1}
    assert attached_pdf(settings.outbox_dir) == pdf.read_bytes()


@pytest.mark.parametrize("stored", [False, True], ids=["upload-lost", "answer-lost"])
def test_killed_during_upload_stores_one_pdf_and_sends_once(stack, settings, tmp_path, stored):
    """Killed inside the PDF's upload to GCS (gcp-storage-emulator behind the proxy, which
    holds the upload so that the worker is waiting for its answer when it is killed).

    upload-lost: the upload never reached storage; the next attempt converts again and
    uploads. answer-lost: the object was stored and only its answer was lost; the next
    attempt finds it (the step looks before rendering) and records it without converting or
    uploading again. That look is what saves it: a PDF converted again differs from the
    stored one (LibreOffice writes a new creation date and document ID each time), so
    uploading it would meet a 412 for other content, not the "same checksum" 412.
    """
    bucket = "quotes-test"
    script, conversions = counting_soffice(tmp_path)
    with emulator_process(bucket) as emulator, precondition_proxy(emulator) as proxy:
        proxy.hold_next_upload(stored=stored)
        stack.env.update({**FAST_RECOVERY, "STORAGE_BACKEND": "gcs", "GCS_BUCKET": bucket,
                          "STORAGE_EMULATOR_HOST": proxy.url, "SOFFICE_PATH": str(script)})
        stack.env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
        stack.start_web()
        worker = stack.start_worker()
        _, created = stack.post("/api/quotations", sample_payload())
        assert proxy.holding.wait(60), stack.all_logs()
        kill(worker)
        stack.processes.remove(worker)
        proxy.release()
        stack.start_worker(name="survivor")
        detail = stack.wait_for(created["links"]["self"], lambda q: q["status"] == "sent", 60)

        number = detail["number"]
        key = f"quotations/{number.split('-')[1]}/{number}-v1.pdf"
        objects = http_json("GET", f"{emulator}/storage/v1/b/{bucket}/o")[1].get("items", [])
        assert [o["name"] for o in objects] == [key]
        object_url = f"{emulator}/storage/v1/b/{bucket}/o/{urllib.parse.quote(key, safe='')}"
        with urllib.request.urlopen(f"{object_url}?alt=media", timeout=10) as response:
            pdf = response.read()
        assert detail["pdf"] == {"key": key, "sha256": hashlib.sha256(pdf).hexdigest(),
                                 "size": len(pdf)}
        assert objects[0]["metadata"] == {"sha256": detail["pdf"]["sha256"]}
        assert (proxy.uploads, proxy.refused) == (1 if stored else 2, 0)

    assert_resumed_once(detail)
    [recorded] = [e for e in detail["events"] if e["kind"] == "pdf_stored"]
    assert recorded["detail"]["reused"] is stored
    assert len(conversions.read_text().splitlines()) == (1 if stored else 2)
    assert emails_per_quotation(settings.outbox_dir) == {number: 1}
    assert attached_pdf(settings.outbox_dir) == pdf


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
    stack.start_worker("--queues", "delivery", name="delivery-worker")  # runs the check too
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
