"""psycopg_pool's repeated warnings, let through once a minute."""

import logging

from quote_service.logging import RepeatFilter


def test_a_message_repeated_by_the_connection_pool_is_logged_once_a_minute():
    repeats = RepeatFilter(seconds=60)
    record = logging.makeLogRecord({"name": "psycopg.pool", "msg": "error connecting in %r: %s",
                                    "args": ("pool-1", "connection refused"), "created": 1000.0})
    later = logging.makeLogRecord({**vars(record), "created": 1030.0})
    much_later = logging.makeLogRecord({**vars(record), "created": 1061.0})
    other = logging.makeLogRecord({**vars(record), "args": ("pool-2", "connection refused"),
                                   "created": 1030.0})

    assert [repeats.filter(r) for r in (record, later, other, much_later)] == [
        True, False, True, True]
