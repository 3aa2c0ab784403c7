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
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from typing import Any

import procrastinate
from procrastinate import jobs, manager, utils
from procrastinate import worker as procrastinate_worker

from jobs.connection import OutageTolerantConnector
from quote_service import db

logger = logging.getLogger("quote_service.jobs.worker")


class WorkerStopped(Exception):
    """The worker stopped on an error."""


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
        await super()._run_loop()

    async def _describe(self) -> None:
        await self.connector.execute_query_async(
            db.query("describe_worker"), worker_id=self.worker_id, host=socket.gethostname(),
            pid=os.getpid(), queues=list(self.queues) if self.queues else None,
            concurrency=self.concurrency, started_at=self.started_at)

    async def _monitor_side_tasks(self, side_tasks: list[asyncio.Task[Any]]) -> None:
        await super()._monitor_side_tasks(side_tasks)
        for task in side_tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                self.failure = task.exception()
                return

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

    def _worker(self, **kwargs: Any) -> Worker:
        return Worker(app=self, **{**self.worker_defaults, **kwargs})
