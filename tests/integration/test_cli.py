"""`quote-service` commands against a database that does not answer: one line, no traceback."""

import pytest
from click.testing import CliRunner

from quote_service.cli import main

pytestmark = pytest.mark.integration

DOWN = "postgresql://127.0.0.1:9/none"


@pytest.mark.parametrize("args", [
    ["migrate"], ["status"], ["status", "1"], ["retry", "1"], ["resend", "1"], ["send", "1"],
    ["users", "list"], ["tokens", "list"], ["workers"],
])
def test_an_unreachable_database_is_one_line(args, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", DOWN)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: database unavailable: ")
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output
