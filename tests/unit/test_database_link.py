"""The worker's view of the database: one pair of log lines per outage, however it ends."""

import logging

import psycopg
import pytest

from jobs.connection import DatabaseLink

LOST = "database unreachable"
BACK = "database reachable again"


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr("jobs.connection.time.monotonic", lambda: now[0])
    return now


@pytest.fixture
def link(caplog):
    """A link whose wake-ups are counted in `link.woken`."""
    caplog.set_level(logging.WARNING, "quote_service.jobs.connection")
    made = DatabaseLink()
    made.woken = []
    made.on_back(lambda: made.woken.append(True))
    return made


def lines(caplog, text):
    return sum(text in record.getMessage() for record in caplog.records)


def test_an_outage_is_logged_once_lost_and_once_back(caplog, clock, link):
    error = psycopg.OperationalError("the database system is shutting down")
    link.mark_lost(error)
    link.mark_lost(error)  # every waiting statement reports it
    assert link.lost
    clock[0] += 12.5
    link.mark_back()
    link.mark_back()
    assert not link.lost
    assert (lines(caplog, LOST), lines(caplog, BACK), len(link.woken)) == (1, 1, 1)
    assert "after 12.5 s" in caplog.records[-1].getMessage()
    assert "shutting down" in caplog.records[0].getMessage()


def test_a_stale_connection_failing_just_after_the_return_is_the_same_outage(caplog, clock,
                                                                             link):
    error = psycopg.OperationalError("server closed the connection unexpectedly")
    link.mark_lost(error)
    clock[0] += 3
    link.mark_back()
    clock[0] += DatabaseLink.SETTLE_SECONDS - 1
    link.mark_lost(error)
    assert link.lost  # still waited out
    clock[0] += 0.3
    link.mark_back()
    assert (lines(caplog, LOST), lines(caplog, BACK), len(link.woken)) == (1, 1, 2)


def test_a_later_outage_is_logged_again(caplog, clock, link):
    error = psycopg.OperationalError("connection refused")
    for _ in range(2):
        link.mark_lost(error)
        clock[0] += 2
        link.mark_back()
        clock[0] += DatabaseLink.SETTLE_SECONDS + 1
    assert (lines(caplog, LOST), lines(caplog, BACK)) == (2, 2)
