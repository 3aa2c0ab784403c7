"""`quote-service demo`, the first of the README's two commands, end to end."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.stack import BIN

pytestmark = pytest.mark.acceptance


def test_the_demo_follows_a_quotation_to_its_pdf_and_email(settings):
    env = {**os.environ, "DATABASE_URL": settings.database_url,
           "STORAGE_DIR": str(settings.storage_dir), "OUTBOX_DIR": str(settings.outbox_dir),
           "SECRET_KEY": settings.secret_key, "CONVERTER": "soffice"}
    env.pop("PUBLIC_BASE_URL", None)
    result = subprocess.run([str(BIN / "quote-service"), "demo", "--port", str(free_port())],
                            env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"created the admin admin@example\.com with password \S+ \(shown once\)", out)
    number = re.search(r"^number:  (Q-\d{4}-\d{4})  \(submit to email: [\d.]+ s\)$", out, re.M)
    assert number, out
    pdf = Path(re.search(r"^pdf:     (.+)$", out, re.M).group(1))
    eml = Path(re.search(r"^email:   (.+)$", out, re.M).group(1))
    assert pdf == settings.storage_dir / "quotations" / number.group(1)[2:6] / f"{number.group(1)}-v1.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert eml.parent == settings.outbox_dir and number.group(1) in eml.read_text()
    assert out.rstrip().endswith("stopped the web server and the worker")
