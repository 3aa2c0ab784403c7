"""`quote-service`: operate the service from a shell."""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from quote_service import db, pipeline, quotations
from quote_service import migrate as migrations
from quote_service.accounts.cli import tokens as tokens_commands
from quote_service.accounts.cli import users as users_commands
from quote_service.deliver.resend_limits import ResendLimited, ResendLimits
from quote_service.domain.locales import SUPPORTED_LOCALES, canonical
from quote_service.domain.money import plain_amount
from quote_service.shell import connection, database_errors, settings


@click.group()
def main() -> None:
    """Quotations priced, numbered, rendered to PDF and emailed, queued in PostgreSQL."""


@main.command()
def migrate() -> None:
    """Apply procrastinate's schema and the project's migrations (idempotent)."""
    with connection() as conn:
        applied = migrations.migrate(conn)
    if applied:
        for version in applied:
            click.echo(f"applied {version}")
    else:
        click.echo("schema is up to date")


@main.command()
@click.argument("file", type=click.File("rb"))
@click.option("--user", "email", required=True,
              help="The account it is submitted as (its idempotency keys are its own).")
@click.option("--idempotency-key", default=None, help="Same key + same body = same quotation.")
def submit(file, email: str, idempotency_key: str | None) -> None:
    """Submit a quotation from a JSON file (`-` for standard input)."""
    from quote_service.accounts import users
    from quote_service.domain import jsontext
    from quote_service.domain.validation import ValidationFailed, parse_submission
    from quote_service.generate.document import available_templates
    from quote_service.services import Services
    from quote_service.submit.service import IdempotencyConflict, client_key
    from quote_service.submit.service import submit as submit_quotation

    try:
        payload = jsontext.load(file.read())
    except jsontext.MalformedJson as exc:
        raise click.ClickException(f"malformed JSON: {exc}") from None
    current = settings()
    try:
        submission = parse_submission(payload, templates=available_templates(),
                                      default_locale=current.locale)
    except ValidationFailed as exc:
        for error in exc.errors:
            click.echo(f"{error.field}: {error.message}", err=True)
        raise click.ClickException("invalid quotation, nothing was written") from None
    with connection(current) as conn:
        user = users.get_by_email(conn, email)
    if user is None or not user.active:
        raise click.ClickException(f"no active user with email {email.strip().lower()}")
    services = Services(current, pool_size=1)
    try:
        with database_errors():
            result = submit_quotation(
                services.pool, submission, user_id=user.id, roles=users.ROLES, payload=payload,
                idempotency_key=client_key(idempotency_key) if idempotency_key else None)
    except IdempotencyConflict:
        raise click.ClickException("idempotency key already used with another body") from None
    finally:
        services.close()
    q = result.quotation
    click.echo(f"{q.id}\t{q.number}\t{q.status}\t{plain_amount(q.total, q.currency)} "
               f"{q.currency}" + ("\t(already submitted)" if result.replayed else ""))


@main.command()
@click.argument("quotation_id", type=int, required=False)
@click.option("--status", "status_filter", default=None, help="Only this status.")
@click.option("--limit", default=20, show_default=True)
def status(quotation_id: int | None, status_filter: str | None, limit: int) -> None:
    """One quotation's pipeline, or the latest quotations."""
    with connection() as conn:
        if quotation_id is None:
            page = quotations.list_page(conn, filter=quotations.Filter(status=status_filter),
                                        before=None, limit=limit)
            for q in page.items:
                click.echo(f"{q.id}\t{q.number}\t{q.status:<10}\t"
                           f"{plain_amount(q.total, q.currency)} {q.currency}\t{q.customer_name}")
            return
        detail = quotations.get_detail(conn, quotation_id)
    if detail is None:
        raise click.ClickException(f"quotation {quotation_id} not found")
    q = detail.quotation
    click.echo(f"{q.number}  {q.status}  {plain_amount(q.total, q.currency)} {q.currency}")
    click.echo(f"customer   {q.customer_name} <{q.customer_email}>")
    click.echo(f"submitted  {q.created_at:%Y-%m-%d %H:%M:%S} by {detail.submitted_by or '-'}")
    click.echo(f"pdf        {q.pdf_key or '-'}")
    if q.last_error:
        click.echo(f"error      {q.last_error}")
    for d in detail.deliveries:
        link = detail.links.get(d.id)
        state = f"link {link.state} (until {link.expires_at:%Y-%m-%d})" if link else "no link yet"
        click.echo(f"delivery   #{d.id} {d.kind} {d.state} {d.provider_message_id or ''} {state}")
    for e in detail.events:
        click.echo(f"  {e.at:%Y-%m-%d %H:%M:%S}  {e.kind:<16} {json.dumps(e.detail)}")


def _act(quotation_id: int, action) -> None:
    with connection() as conn:
        try:
            with conn.transaction():
                action(conn, quotation_id)
        except (LookupError, pipeline.NotAllowed) as exc:
            raise click.ClickException(str(exc)) from None
        except ResendLimited as exc:
            raise click.ClickException(f"resend limit reached: {exc}; try again in "
                                       f"{exc.retry_after} s") from None
    click.echo(f"quotation {quotation_id}: queued")


@main.command()
@click.argument("quotation_id", type=int)
def retry(quotation_id: int) -> None:
    """Resume a failed quotation from the step that failed."""
    _act(quotation_id, pipeline.retry)


@main.command()
@click.argument("quotation_id", type=int)
def resend(quotation_id: int) -> None:
    """Email the stored PDF again, as a new delivery (within the resend limits)."""
    limits = ResendLimits.from_settings(settings())
    _act(quotation_id, lambda conn, qid: pipeline.resend(conn, qid, limits=limits))


@main.command()
@click.argument("quotation_id", type=int)
def send(quotation_id: int) -> None:
    """Email a ready quotation (a draft whose PDF is stored): its first delivery."""
    _act(quotation_id, pipeline.send_ready)


@main.command("revoke-links")
@click.argument("quotation_id", type=int)
@click.option("--delivery", "delivery_id", type=int, default=None,
              help="Only this delivery's link (see `status ID`); else every email's.")
def revoke_links(quotation_id: int, delivery_id: int | None) -> None:
    """Withdraw the customer links of a quotation's emails: opening one then says how to ask
    for a new one (a resend sends a new link)."""
    from quote_service import links

    with connection() as conn:
        try:
            with conn.transaction():
                revoked = links.revoke(conn, quotation_id, delivery_id=delivery_id)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"quotation {quotation_id}: {len(revoked)} link{'s' if len(revoked) != 1 else ''}"
               f" revoked" + (f" (deliveries {', '.join(map(str, revoked))})" if revoked else ""))


@main.command("workers")
def list_workers() -> None:
    """The workers: host, pid, queues, concurrency, start, last heartbeat and the jobs each one
    runs. A health check too: exits 1 when a queue has no live worker."""
    from quote_service import workers

    current = settings()
    with connection(current) as conn:
        found = workers.list_all(conn)
        runs = workers.maintenance_runs(conn)
    stalled_after = current.stalled_worker_seconds
    rows = [("WORKER", "HOST", "PID", "QUEUES", "CONCURRENCY", "STARTED (UTC)", "HEARTBEAT",
             "STATE", "RUNNING")]
    for w in found:
        running = ", ".join(f"{j.task_name} {j.number or f'job {j.job_id}'} (attempt {j.attempt})"
                            for j in w.jobs)
        rows.append((str(w.worker_id), w.host or "?", str(w.pid or "?"), w.queues_display,
                     str(w.concurrency or "?"),
                     f"{w.started_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}" if w.started_at else "?",
                     f"{w.silent_for.total_seconds():.0f} s ago",
                     "alive" if w.alive(stalled_after) else "silent", running or "-"))
    _table(rows)
    for run in runs:
        last = (f"last run {run.since_finished.total_seconds():.0f} s ago by worker "
                f"{run.worker_id}: {run.outcome}" if run.since_finished is not None
                else "running")
        click.echo(f"maintenance {run.task}: {last}")
    unattended = workers.unattended_queues(found, stalled_after)
    if unattended:
        click.echo(f"no live worker listens on: {', '.join(unattended)}", err=True)
        sys.exit(1)


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                   .rstrip())


@main.group(invoke_without_command=True)
@click.pass_context
def queues(context: click.Context) -> None:
    """The queues: waiting and running jobs, live workers, paused or not."""
    if context.invoked_subcommand is not None:
        return
    from quote_service import pauses, workers

    current = settings()
    with connection(current) as conn:
        paused = pauses.list_all(conn)
        counts = {(r["queue_name"], r["status"]): r["jobs"]
                  for r in db.fetch_all(conn, "dashboard_counts")}
        live = workers.live_per_queue(workers.list_all(conn), current.stalled_worker_seconds)
    rows = [("QUEUE", "STATE", "WAITING", "RUNNING", "LIVE WORKERS")]
    for name, n in live.items():
        state = (f"paused by {paused[name].paused_by} at "
                 f"{paused[name].paused_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
                 if name in paused else "running")
        rows.append((name, state, str(counts.get((name, "todo"), 0)),
                     str(counts.get((name, "doing"), 0)), str(n)))
    _table(rows)


@queues.command("pause")
@click.argument("name")
def pause_queue(name: str) -> None:
    """Pause a queue: its running jobs finish, no worker starts another until it is resumed."""
    _toggle(name, pause=True)


@queues.command("resume")
@click.argument("name")
def resume_queue(name: str) -> None:
    """Resume a paused queue; its workers wake up at once."""
    _toggle(name, pause=False)


def _toggle(name: str, *, pause: bool) -> None:
    import getpass

    from quote_service import pauses

    with connection() as conn:
        try:
            changed = (pauses.pause(conn, name, by=f"{getpass.getuser()} (command line)")
                       if pause else pauses.resume(conn, name))
        except pauses.UnknownQueue as exc:
            raise click.ClickException(str(exc)) from None
    if pause:
        click.echo(f"queue {name}: paused" if changed else f"queue {name} was paused already")
    else:
        click.echo(f"queue {name}: resumed" if changed else f"queue {name} was not paused")


@main.command()
@click.option("--bind", default="127.0.0.1:8000", show_default=True, metavar="HOST:PORT",
              help="Where to listen; beyond loopback a real SECRET_KEY is required.")
@click.option("--workers", default=None, type=click.IntRange(1), help="Processes [2].")
@click.option("--threads", default=None, type=click.IntRange(1),
              help="Threads per process [16].")
@click.option("--access-log", is_flag=True, help="One line per request on standard output.")
def serve(bind: str, workers: int | None, threads: int | None, access_log: bool) -> None:
    """Run the web server (production: see deploy/systemd/quote-service-web.service)."""
    from quote_service.web import server

    server.serve(bind, workers=workers or server.WORKERS, threads=threads or server.THREADS,
                 access_log=access_log)


@main.command()
@click.option("--port", default=8000, show_default=True)
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait for the email.")
@click.option("--locale", default=None, metavar="TAG",
              help=f"The sample's locale (one of {', '.join(SUPPORTED_LOCALES)}); default: LOCALE.")
def demo(port: int, timeout: float, locale: str | None) -> None:
    """Start the web server and a worker, submit a sample quotation over HTTP, wait for its
    PDF and email, print where they are, and stop what was started."""
    from quote_service.demo import run_demo

    if locale is not None and canonical(locale) is None:
        raise click.BadParameter(f"expected one of {', '.join(SUPPORTED_LOCALES)}",
                                 param_hint="--locale")

    current = settings()
    with connection(current) as conn:
        migrations.migrate(conn)
    with database_errors():
        code = run_demo(current, port=port, timeout=timeout, echo=click.echo,
                        locale=canonical(locale) if locale else None)
    sys.exit(code)


main.add_command(users_commands)
main.add_command(tokens_commands)
