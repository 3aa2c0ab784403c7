"""schemathesis against the live OpenAPI document, served by the real web server: every
operation of /api/openapi.json gets a fixed number of generated requests (valid and invalid),
then stateful sequences that follow the document's links (submit, then read, retry, resend
and withdraw links of what was submitted). The run must find no server error, no answer
outside the document (status, headers, content type, body schema), and no disagreement
between what the document allows and what the server accepts (see schemathesis.toml)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from quote_service.web.openapi import OPENAPI
from tests.samples import sample_payload
from tests.support.queue_states import finish_job, latest_job, start_job
from tests.support.stack import BIN

pytestmark = pytest.mark.acceptance

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 100
SEED = 20260101
BUDGET_SECONDS = 180


def failed_quotation(stack, conn) -> int:
    """Quotation 1, the document's example id: its PDF stored, its email (delivery 1) failed,
    no job waiting, so that the operations on an id meet a real quotation."""
    status, body = stack.post("/api/quotations", sample_payload())
    assert status == 202 and body["id"] == 1, body
    job_id = latest_job(conn, body["id"])["id"]
    start_job(conn, job_id)
    finish_job(conn, job_id)
    conn.execute("UPDATE quotations SET pdf_key = 'k', pdf_sha256 = 's', pdf_size = 1, "
                 "status = 'failed', failed_step = 'send' WHERE id = 1")
    conn.execute("INSERT INTO deliveries (quotation_id, recipient, state) "
                 "VALUES (1, 'buyer@example.com', 'failed')")
    return body["id"]


def test_the_api_keeps_to_its_openapi_document(stack, tmp_path, conn):
    stack.start_web()
    failed_quotation(stack, conn)
    junit = tmp_path / "schemathesis.xml"
    started = time.monotonic()
    result = subprocess.run(
        [str(BIN / "st"), "--config-file", str(CONFIG), "run",
         f"{stack.base_url}/api/openapi.json",
         "--header", f"Authorization: Bearer {stack.token}",
         "--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", str(SEED),
         "--generation-database", "none", "--workers", "1", "--request-timeout", "10",
         "--no-color", "--report", "junit", "--report-junit-path", str(junit)],
        capture_output=True, text=True, timeout=BUDGET_SECONDS, cwd=tmp_path)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert elapsed < BUDGET_SECONDS
    run = {case.get("name") for case in ElementTree.parse(junit).getroot().iter("testcase")}
    documented = {f"{method.upper()} {path}" for path, item in OPENAPI["paths"].items()
                  for method in item}
    assert documented <= run, documented - run  # every operation of the document was run
    summary = next(line for line in output.splitlines() if " generated, " in line)
    generated = int(summary.split()[0])
    assert generated > 1000 and "failure" not in summary, summary
    print(f"\nschemathesis: {summary.strip()} in {elapsed:.0f} s")
    # Not one request made the application fail, whatever it answered.
    assert "Traceback" not in stack.log("web.log")
    # The document's example id reached a real quotation, which was acted on (the first of
    # retry and resend leaves a job waiting, which refuses the other with 409).
    kinds = {row[0] for row in conn.execute("SELECT kind FROM quotation_events "
                                            "WHERE quotation_id = 1")}
    assert kinds & {"retry_requested", "resend_requested"}, kinds
