"""The outbox shared by several worker processes: a reference is written once, whoever wins."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from quote_service.deliver.mail.outbox import OutboxMailer

pytestmark = pytest.mark.integration

SEND = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from quote_service.deliver.mail.base import Attachment, OutgoingEmail
    from quote_service.deliver.mail.outbox import OutboxMailer

    folder, start_at, subject = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    email = OutgoingEmail(
        reference="delivery-42", sender="quotes@northwind.example", to="buyer@example.com",
        subject=subject, text="Hello", html="<p>Hello</p>",
        attachments=(Attachment("Q-2026-0042.pdf", "application/pdf", b"%PDF-1.7" * 5000),),
    )
    time.sleep(max(0.0, start_at - time.time()))
    print(OutboxMailer(folder).send(email).message_id)
    """
)


def test_concurrent_processes_write_one_message_and_agree_on_its_id(tmp_path: Path) -> None:
    folder = tmp_path / "outbox"
    start_at = str(time.time() + 1.5)  # every process past its imports, then all at once
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SEND, str(folder), start_at, f"attempt {n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(6)
    ]
    outputs = [process.communicate(timeout=30) for process in processes]

    assert [process.returncode for process in processes] == [0] * 6, outputs
    message_ids = {stdout.strip() for stdout, _ in outputs}
    assert len(message_ids) == 1
    assert [p.name for p in folder.iterdir()] == ["delivery-42.eml"]
    assert OutboxMailer(folder).find_sent("delivery-42").message_id == message_ids.pop()
