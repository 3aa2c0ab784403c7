"""A quotation goes from HTTP to a PDF and an email through a real web server and worker
processes, on the default backends (local storage, outbox)."""

from __future__ import annotations

import email
import email.policy
import re
import subprocess
import urllib.request

import pytest

from quote_service.demo import stop
from tests.samples import sample_payload

pytestmark = pytest.mark.acceptance


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_submitted_quotation_becomes_a_pdf_and_one_email(stack, settings):
    stack.start_web()
    stack.start_worker("--concurrency", "2")
    payload = sample_payload(
        notes="Delivery within 2 weeks.\nTyped by the user: {{ 7*7 }}",
        lines=[
            {"description": "Industrial widget, stainless", "quantity": "2",
             "unit_price": "99.50", "tax_rate": "20"},
            {"description": "Mounting kit", "quantity": "3", "unit_price": "0.335",
             "tax_rate": "20"},
            {"description": "Installation \"premium\" & <setup>", "quantity": "4",
             "unit_price": "65", "tax_rate": "20", "discount_pct": "10"},
        ],
    )
    status, created = stack.post("/api/quotations", payload)
    assert status == 202, created
    detail = stack.wait_for(created["links"]["self"], lambda q: q["status"] in ("sent", "failed"))
    assert detail["status"] == "sent", detail
    assert detail["pdf_generated_at"] and detail["sent_at"]
    assert [e["kind"] for e in detail["events"]] == [
        "submitted", "generating", "pdf_stored", "sending", "sent"]

    pdf = settings.storage_dir / detail["pdf"]["key"]
    assert detail["pdf"]["key"] == f"quotations/{detail['number'][2:6]}/{detail['number']}-v1.pdf"
    text = pdf_text(pdf)
    assert "Smith & Sons <Ltd>" in text
    assert "Typed by the user: {{ 7*7 }}" in text
    assert detail["number"] in text
    for description in ("Industrial widget, stainless", "Mounting kit",
                        "Installation \"premium\" & <setup>"):
        assert description in text
    # 199.00 + 1.01 + 234.00 net; 39.80 + 0.20 + 46.80 tax
    for amount in ("434.01", "86.80", "520.81"):
        assert amount in text, amount
    assert detail["total"] == "520.81"

    emls = list(settings.outbox_dir.glob("*.eml"))
    assert len(emls) == 1
    message = email.message_from_bytes(emls[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "buyer@example.com"
    assert detail["number"] in message["Subject"]
    attachments = [part for part in message.iter_attachments()]
    assert [a.get_filename() for a in attachments] == [f"{detail['number']}-v1.pdf"]
    assert attachments[0].get_content() == pdf.read_bytes()
    body = message.get_body(("plain",)).get_content()
    # The email's own link opens the customer's page and its PDF, with no account, on the
    # real server.
    link = re.search(r"http://\S+/q/([A-Za-z0-9_-]{43})", body)
    assert link and link.group(0).startswith(stack.base_url), body
    with urllib.request.urlopen(link.group(0)) as response:
        assert response.status == 200 and detail["number"] in response.read().decode()
    with urllib.request.urlopen(link.group(0) + "/pdf") as response:
        assert response.status == 200 and response.read() == pdf.read_bytes()
    assert detail["deliveries"][0]["link"]["state"] == "active"
    assert detail["deliveries"][0]["state"] == "accepted"
    assert detail["deliveries"][0]["provider_message_id"] == message["Message-ID"]


def test_a_japanese_quotation_is_made_and_sent_in_japanese_by_the_real_worker(stack, settings):
    stack.start_web()
    stack.start_worker()
    status, created = stack.post("/api/quotations", sample_payload(
        locale="ja-JP", currency="JPY", customer={"name": "山田太郎 🚀", "email": "taro@example.com"},
        lines=[{"description": "設置作業", "quantity": "3", "unit_price": "43300",
                "tax_rate": "10"}]))
    assert status == 202, created
    detail = stack.wait_for(created["links"]["self"], lambda q: q["status"] in ("sent", "failed"))
    assert detail["status"] == "sent" and detail["locale"] == "ja-JP", detail

    text = " ".join(pdf_text(settings.storage_dir / detail["pdf"]["key"]).split())
    for expected in ("御見積書", "山田太郎 🚀", "設置作業", "129,900", "合計（JPY） ￥142,890"):
        assert expected in text, (expected, text)
    fonts = subprocess.run(["pdffonts", str(settings.storage_dir / detail["pdf"]["key"])],
                           check=True, capture_output=True, text=True).stdout
    assert "Symbola" in fonts and "NotoSansCJK" in fonts
    [eml] = settings.outbox_dir.glob("*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message.get_body(("plain",)).get_content().startswith("山田太郎 🚀 様")
    assert "合計 ￥142,890" in message.get_body(("plain",)).get_content()


def test_a_conversion_that_keeps_failing_marks_the_quotation_failed(stack, settings):
    stack.start_web()
    stack.start_worker(SOFFICE_PATH="/bin/false")
    status, created = stack.post("/api/quotations", sample_payload())
    assert status == 202
    detail = stack.wait_for(created["links"]["self"], lambda q: q["status"] == "failed")
    assert detail["failed_step"] == "generate"
    assert detail["last_error"].startswith("generate: ConversionError")
    assert detail["attempts"] == 3
    kinds = [e["kind"] for e in detail["events"]]
    assert kinds.count("attempt_failed") == 2 and kinds[-1] == "failed"
    assert not list(settings.outbox_dir.glob("*.eml"))

    # Fixed, then retried from the step that failed: it goes through.
    stop(stack.processes.pop())
    stack.start_worker(name="fixed-worker")
    status, _ = stack.post(f"/api/quotations/{created['id']}/retry")
    assert status == 202
    detail = stack.wait_for(created["links"]["self"], lambda q: q["status"] == "sent")
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 1


def test_a_template_that_cannot_render_fails_at_once(stack, conn):
    """A template withdrawn after the quotation was submitted: no attempt could render it, so
    the first failure is the last."""
    stack.start_web()
    status, created = stack.post("/api/quotations", sample_payload())
    assert status == 202
    conn.execute("UPDATE quotations SET template = 'withdrawn' WHERE id = %s", (created["id"],))
    stack.start_worker()
    detail = stack.wait_for(created["links"]["self"], lambda q: q["status"] == "failed")
    assert detail["last_error"] == "generate: DocumentError: unknown template 'withdrawn'"
    assert detail["attempts"] == 1
    kinds = [e["kind"] for e in detail["events"]]
    assert "attempt_failed" not in kinds and kinds[-1] == "failed"


def test_a_last_failure_that_cannot_be_recorded_still_ends_failed(stack, conn):
    """Recording the failure fails as well: the worker says so loudly, the job still ends
    after its last attempt, and the stalled-job check marks the quotation failed."""
    conn.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                 "$$ BEGIN RAISE EXCEPTION 'job_failures is read-only'; END $$")
    conn.execute("CREATE TRIGGER read_only BEFORE INSERT ON job_failures "
                 "FOR EACH ROW EXECUTE FUNCTION refuse()")
    stack.env["STALLED_CHECK_SECONDS"] = "1"
    stack.start_web()
    _, created = stack.post("/api/quotations", sample_payload())
    conn.execute("UPDATE quotations SET template = 'withdrawn' WHERE id = %s", (created["id"],))
    stack.start_worker()
    detail = stack.wait_for(created["links"]["self"], lambda q: q["status"] == "failed")
    job_id = next(e["job_id"] for e in detail["events"] if e["kind"] == "generating")
    assert detail["last_error"] == (
        f"generate: JobFailed: job {job_id} failed after 1 attempt and its failure could not "
        "be recorded; see the worker's log")
    assert conn.execute("SELECT status::text, attempts FROM procrastinate_jobs WHERE id = %s",
                        (job_id,)).fetchone() == ("failed", 1)
    log = (stack.logs / "worker.log").read_text()
    assert ("CRITICAL quote_service.jobs" in log
            and "could not record that generate_pdf attempt 1 failed (DocumentError: unknown "
            "template 'withdrawn')" in log)


def test_bad_configuration_stops_the_server_once_with_one_line(tmp_path):
    import os

    from tests.support.ports import free_port
    from tests.support.stack import BIN

    env = {**os.environ, "STORAGE_BACKEND": "s3"}
    result = subprocess.run([str(BIN / "quote-service"), "serve", "--bind",
                             f"127.0.0.1:{free_port()}"], env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode != 0
    assert "configuration error: STORAGE_BACKEND='s3' is invalid" in result.stderr
    assert "Traceback" not in result.stderr

    worker = subprocess.run([str(BIN / "procrastinate"), "--app=jobs.app", "worker"], env=env,
                            capture_output=True, text=True, timeout=30)
    assert worker.returncode != 0
    assert "configuration error: STORAGE_BACKEND='s3' is invalid" in worker.stderr
