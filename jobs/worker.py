"""procrastinate's worker, made to survive its database and to be seen.

What it adds to procrastinate 3.10's `Worker` (whose private hooks it overrides: the version
is pinned in pyproject.toml for that reason):

- It stays up through database outages (jobs.connection waits them out) and says where it
  runs: host, pid, queues and concurrency go to `worker_processes` when it registers, for
  `quote-service workers`, the dashboard and /metrics.
- A job's outcome is written only while its attempt is still the job's current one (the job is
  `doing`, with the attempts and worker it was fetched with). A worker cut off from the database
  for longer than STALLED_WORKER_SECONDS is taken for dead by the others, who count its attempt
  as failed and retry the job; when it comes back, its late "succeeded" or "retry" would
  otherwise overwrite the newer attempt's state. It is ignored instead, and logged.
- Its heartbeat notices when the worker was pruned as dead meanwhile and registers again (a
  job fetched under an unknown worker id would fail), and notices a job the database says it
  runs but it does not (the answer to a fetch lost in an outage): that job is disowned, so the
  stalled-job check settles and retries it instead of it staying `doing` for good.
- A worker that stops on an error exits with a non-zero status (procrastinate's exits 0 when a
  side task fails), so a supervisor restarts it.
- It wakes up when it should. procrastinate clears its "new job" flag after each fetch, so a
  job committed while a fetch was under way waited for the next poll (5 s); the flag is cleared
  before the fetch here. Between jobs it sleeps until the next retry is due rather than a
  fixed poll, so a job retried "in 2 s" runs in 2 s, not in the next 5 s step.
- It skips paused queues (queue_pauses), and runs the maintenance routines (jobs.maintenance)
  as side tasks, outside the job queue: a backlog of PDFs never delays the recovery of a dead
  worker's jobs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import procrastinate
from procrastinate import job_context, jobs, manager, utils
from procrastinate import worker as procrastinate_worker

from jobs.connection import OutageTolerantConnector
from quote_service import db, queue

logger = logging.getLogger("quote_service.jobs.worker")


POLL_SECONDS = 5.0  # the longest an idle worker sleeps (procrastinate's polling interval)


class WorkerStopped(Exception):
    """The worker stopped on an error."""


@dataclass(frozen=True)
class Routine:
    """A maintenance routine every worker may run, once per `every` seconds across all of
    them: `run(app)` returns what it did, whose `str()` is kept in `maintenance_runs`."""

    name: str
    every: float
    run: Callable[[procrastinate.App], Awaitable[object]]


class JobManager(manager.JobManager):
    """procrastinate's job manager, counting a worker's silence from the database server's
    start at the earliest (`worker_silence`): after a database restart, workers that could
    not send heartbeats while it was down are not taken for dead."""

    async def get_stalled_jobs(self, nb_seconds: int | None = None, queue: str | None = None,
                               task_name: str | None = None,
                               seconds_since_heartbeat: float = 30) -> list[jobs.Job]:
        if nb_seconds is not None or queue is not None or task_name is not None:
            return list(await super().get_stalled_jobs(
                nb_seconds=nb_seconds, queue=queue, task_name=task_name,
                seconds_since_heartbeat=seconds_since_heartbeat))
        rows = await self.connector.execute_query_all_async(
            db.query("jobs_of_silent_workers"), seconds=seconds_since_heartbeat)
        return [jobs.Job.from_row(row) for row in rows]

    async def prune_stalled_workers(self, seconds_since_heartbeat: float) -> list[int]:
        rows = await self.connector.execute_query_all_async(
            db.query("prune_silent_workers"), seconds=seconds_since_heartbeat)
        return [row["worker_id"] for row in rows]


class Worker(procrastinate_worker.Worker):
    def __init__(self, app: App, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.connector: OutageTolerantConnector = app.connector
        self.failure: BaseException | None = None
        self.started_at = dt.datetime.now(dt.UTC)
        self._suspects: set[tuple[int, int]] = set()
        self.connector.link.on_back(self._new_job_event.set)

    def stop(self) -> None:
        self.connector.link.stopping.set()
        super().stop()

    async def run(self) -> None:
        self.connector.riding_out = True
        try:
            await super().run()
        finally:
            self.connector.riding_out = False
        if self.failure is not None:
            raise WorkerStopped(f"the worker stopped on an error: {self.failure!r}"
                                ) from self.failure

    async def _run_loop(self) -> None:
        await self._describe()
        for hook in self.app.on_worker_start:
            hook(self)
        await super()._run_loop()

    async def _describe(self) -> None:
        await self.connector.execute_query_async(
            db.query("describe_worker"), worker_id=self.worker_id, host=socket.gethostname(),
            pid=os.getpid(), queues=list(self.queues) if self.queues else None,
            concurrency=self.concurrency, started_at=self.started_at)

    def _start_side_tasks(self) -> list[asyncio.Task[Any]]:
        return [*super()._start_side_tasks(),
                *(asyncio.create_task(self._maintain(routine), name=routine.name)
                  for routine in self.app.maintenance)]

    async def _monitor_side_tasks(self, side_tasks: list[asyncio.Task[Any]]) -> None:
        """Stop the worker when a side task fails, remembering why (procrastinate stops
        watching the others once any side task ends, even one that simply had nothing to do,
        like the periodic deferrer without periodic tasks)."""
        pending = set(side_tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    self.failure = task.exception()
                    self.logger.error("side task %s failed, stopping the worker: %r",
                                      task.get_name(), self.failure, exc_info=self.failure)
                    self.stop()
                    return

    async def _maintain(self, routine: Routine) -> None:
        """Run `routine` whenever it is due and this worker claims it first."""
        while True:
            claimed = await self.connector.execute_query_all_async(
                db.query("claim_maintenance"), task=routine.name, every=routine.every,
                worker_id=self.worker_id)
            if claimed:
                try:
                    outcome = str(await routine.run(self.app))
                except Exception as exc:
                    logger.exception("maintenance routine %s failed", routine.name)
                    outcome = f"failed: {exc!r}"[:500]
                await self.connector.execute_query_async(
                    db.query("finish_maintenance"), task=routine.name, outcome=outcome)
            row = await self.connector.execute_query_one_async(
                db.query("maintenance_due"), task=routine.name)
            due_in = routine.every if row["seconds"] is None else row["seconds"]
            await asyncio.sleep(min(max(due_in, 0.05), routine.every))

    async def _fetch_and_process_jobs(self) -> None:
        """procrastinate's loop, with the "new job" flag cleared before each fetch rather than
        after it, and the worker's own fetch (paused queues skipped); then, with nothing left
        to run, the next sleep lasts until the next scheduled job is due."""
        while not self._stop_event.is_set():
            acquire = asyncio.create_task(self._job_semaphore.acquire())
            job = None
            try:
                await utils.wait_any(acquire, self._stop_event.wait())
                if self._stop_event.is_set():
                    break
                self._new_job_event.clear()
                job = await self._fetch_job()
            finally:
                if (not job or self._stop_event.is_set()) and acquire.done():
                    self._job_semaphore.release()
            if not job:
                break
            self._start_job(job)
        self.fetch_job_polling_interval = await self._seconds_until_next_job()

    async def _fetch_job(self) -> jobs.Job | None:
        row = await self.connector.execute_query_one_async(
            db.query("fetch_job"), queues=self.queues, service_queues=list(queue.QUEUES),
            worker_id=self.worker_id)
        return None if row["id"] is None else jobs.Job.from_row(row)

    def _start_job(self, job: jobs.Job) -> None:
        """As procrastinate starts a fetched job: a context, an asyncio task, a slot."""
        context = job_context.JobContext(
            app=self.app, worker_name=self.worker_name, worker_queues=self.queues,
            additional_context=(self.additional_context or {}).copy(), job=job,
            abort_reason=lambda job_id=job.id: self._job_ids_to_abort.get(job_id),
            start_timestamp=time.time())
        task = asyncio.create_task(self._process_job(context),
                                   name=f"process job {job.task_name}[{job.id}]")
        self._running_jobs[task] = context

        def on_job_complete(done: asyncio.Task) -> None:
            del self._running_jobs[done]
            self._job_semaphore.release()

        task.add_done_callback(on_job_complete)

    async def _seconds_until_next_job(self) -> float:
        row = await self.connector.execute_query_one_async(
            db.query("next_job_due"), queues=self.queues)
        if row["seconds"] is None:
            return POLL_SECONDS
        return min(max(row["seconds"], 0.01), POLL_SECONDS)

    async def _update_heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.update_heartbeat_interval)
            beat = await self.connector.execute_query_all_async(
                db.query("beat_worker"), worker_id=self.worker_id)
            if not beat:
                await self._register_again()
            await self._disown_lost_jobs()

    async def _register_again(self) -> None:
        old = self.worker_id
        self.worker_id = await self.app.job_manager.register_worker()
        await self._describe()
        logger.warning("worker %s was taken for dead while it could not reach the database "
                       "(its running jobs are retried elsewhere, their late results ignored); "
                       "registered again as worker %s", old, self.worker_id)

    async def _disown_lost_jobs(self) -> None:
        """Jobs `doing` under this worker that it does not run, seen on two heartbeats in a row
        (a fetch's answer can be on its way at one of them), lose their worker, so that the
        next stalled-job check retries them."""
        rows = await self.connector.execute_query_all_async(
            db.query("jobs_of_worker"), worker_id=self.worker_id)
        running = {(c.job.id, c.job.attempts) for c in self._running_jobs.values()}
        seen = {(row["id"], row["attempts"]) for row in rows} - running
        for job_id, attempts in seen & self._suspects:
            disowned = await self.connector.execute_query_all_async(
                db.query("disown_job"), id=job_id, attempts=attempts, worker_id=self.worker_id)
            if disowned:
                logger.warning("job %s is doing under worker %s, which does not run it (the "
                               "answer to its fetch was lost): left to the stalled-job check",
                               job_id, self.worker_id, extra={"job_id": job_id})
        self._suspects = seen - self._suspects

    async def _persist_job_status(self, job: jobs.Job, status: jobs.Status,
                                  retry_decision: procrastinate.RetryDecision | None,
                                  context: Any, job_result: Any) -> None:
        own = {"id": job.id, "attempts": job.attempts, "worker_id": job.worker_id}
        if retry_decision is not None:
            written = await self.connector.execute_query_all_async(
                db.query("retry_own_attempt"), retry_at=retry_decision.retry_at or utils.utcnow(),
                priority=retry_decision.priority, queue=retry_decision.queue,
                lock=retry_decision.lock, **own)
        else:
            delete_job = {
                jobs.DeleteJobCondition.ALWAYS: True,
                jobs.DeleteJobCondition.NEVER: False,
                jobs.DeleteJobCondition.SUCCESSFUL: status == jobs.Status.SUCCEEDED,
            }[self.delete_jobs]
            written = await self.connector.execute_query_all_async(
                db.query("finish_own_attempt"), status=status.value, delete_job=delete_job,
                **own)
        assert job.id is not None
        self._job_ids_to_abort.pop(job.id, None)
        self._new_job_event.set()  # a retry is due later, or a waiting job of its lock is free
        if not written:
            logger.warning("job %s attempt %d ended (%s) after it was taken for lost and the "
                           "job retried: its result is ignored", job.id, job.attempts + 1,
                           "to retry" if retry_decision else status.value,
                           extra={"job_id": job.id})


class App(procrastinate.App):
    """procrastinate's App with the worker and job manager above."""

    def __init__(self, *, connector: OutageTolerantConnector, **kwargs: Any) -> None:
        super().__init__(connector=connector, **kwargs)
        self.job_manager = JobManager(connector=connector)
        self.maintenance: list[Routine] = []
        self.on_worker_start: list[Callable[[Worker], None]] = []

    def _worker(self, **kwargs: Any) -> Worker:
        return Worker(app=self, **{**self.worker_defaults, **kwargs})
