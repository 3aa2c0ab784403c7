"""What a signed-in user does to a quotation, the same from the API and from the pages: the
quotation must be in the user's scope (else LookupError, a 404), the pipeline does the work,
and the user's email goes into the event, so the audit trail says who did what."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from flask import g

from quote_service import db, links, pipeline, quotations
from quote_service.app import services
from quote_service.deliver.resend_limits import ResendLimits
from quote_service.domain.model import Quotation
from quote_service.domain.validation import Submission
from quote_service.submit import revisions
from quote_service.web.auth import current_scope

Action = Callable[[psycopg.Connection, int], Any]


def run(quotation_id: int, action: Action) -> Any:
    """Run `action` on a quotation the user may act on, in one transaction; raise
    LookupError, pipeline.NotAllowed or ResendLimited."""
    with db.transaction(services().pool) as conn:
        quotations.require(conn, quotation_id, current_scope())
        return action(conn, quotation_id)


def retry(conn: psycopg.Connection, quotation_id: int) -> Any:
    return pipeline.retry(conn, quotation_id, by=g.user.email)


def resend(conn: psycopg.Connection, quotation_id: int) -> Any:
    return pipeline.resend(conn, quotation_id, by=g.user.email,
                           limits=ResendLimits.from_settings(services().settings))


def revoke_links(delivery_id: int | None = None) -> Action:
    """Withdraw the customer links of a quotation's emails, or of one of them."""
    def revoke(conn: psycopg.Connection, quotation_id: int) -> list[int]:
        return links.revoke(conn, quotation_id, delivery_id=delivery_id, by=g.user.email)

    return revoke


def send(conn: psycopg.Connection, quotation_id: int) -> Any:
    return pipeline.send_ready(conn, quotation_id, by=g.user.email)


def edit(submission: Submission) -> Action:
    """Replace a draft's body (its PDF is made again)."""
    def replace(conn: psycopg.Connection, quotation_id: int) -> Quotation:
        return revisions.replace_draft(conn, quotation_id, submission, team=g.user.team,
                                       by=g.user.email)

    return replace


def revise(submission: Submission) -> Action:
    """Make the next version; the action's result is that version."""
    def make(conn: psycopg.Connection, quotation_id: int) -> Quotation:
        return revisions.revise(conn, quotation_id, submission, user_id=g.user.id,
                                team=g.user.team, by=g.user.email)

    return make
