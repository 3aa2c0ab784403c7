"""Three worker hosts share one queue; one is cut off the network while it converts.

The hosts are network namespaces on a bridge (tests.support.netns), each running a worker
against the test's own PostgreSQL at the bridge's address, with the defaults for heartbeats
and stalled-job checks. The cut-off host's job is retried on the others within a minute;
every quotation is sent exactly once; and when the host comes back, its late conversion
changes nothing: no second PDF, no second email, no record of its attempt but the one the
others wrote when they took it for lost.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.netns import HostNetwork, NamespacesUnavailable, host_network
from tests.support.outages import (
    Submitter,
    assert_all_sent_once,
    count,
    gated_soffice,
    query,
    sent,
    stack_on,
    wait_for,
)
from tests.support.private_postgres import PrivateCluster, private_cluster
from tests.support.stack import Stack

pytestmark = pytest.mark.acceptance

QUOTATIONS = 60


@pytest.fixture
def hosts() -> Iterator[HostNetwork]:
    try:
        with host_network(3) as network:
            yield network
    except NamespacesUnavailable as exc:
        pytest.skip(f"network namespaces cannot be created here: {exc}")


@pytest.fixture
def cluster(hosts: HostNetwork) -> Iterator[PrivateCluster]:
    """The test's PostgreSQL, reachable from the hosts at the bridge's address."""
    with private_cluster(addresses=("127.0.0.1", hosts.gateway)) as started:
        yield started


@pytest.fixture
def shared_stack(cluster: PrivateCluster, tmp_path: Path, test_password_hash: str
                 ) -> Iterator[Stack]:
    with stack_on(cluster, tmp_path, test_password_hash) as running:
        yield running


def pdf_files(storage: Path) -> dict[str, float]:
    return {str(p.relative_to(storage)): p.stat().st_mtime for p in storage.rglob("*.pdf")}


def test_a_host_cut_off_while_converting_changes_nothing_when_it_comes_back(
        shared_stack, hosts, cluster, tmp_path):
    stack = shared_stack
    first, cut_off, third = hosts.hosts
    soffice, converting, release = gated_soffice(tmp_path)
    worker_url = {"DATABASE_URL": cluster.url(host=hosts.gateway)}
    stack.start_worker(name="host-2", prefix=cut_off.run_prefix, CONVERTER="soffice",
                       SOFFICE_PATH=str(soffice), **worker_url)
    wait_for(lambda: count(stack.database_url, "SELECT count(*) FROM workers WHERE host = %s",
                           cut_off.name) == 1, 60, lambda: stack.all_logs())
    for host in (first, third):
        stack.start_worker(name=host.name, prefix=host.run_prefix, **worker_url)
    submitter = Submitter(stack, QUOTATIONS)
    submitter.start()
    wait_for(converting.exists, 60, lambda: f"host 2 converted nothing\n{stack.all_logs()}")
    [(job_id, quotation_id)] = query(
        stack.database_url, "SELECT j.job_id, j.quotation_id FROM running_jobs j "
        "JOIN workers w USING (worker_id) WHERE w.host = %s", cut_off.name)

    hosts.cut(cut_off)
    cut_at = time.monotonic()
    release.touch()  # its conversion goes on and ends while it is cut off
    wait_for(lambda: count(stack.database_url, "SELECT count(*) FROM quotation_events "
                           "WHERE quotation_id = %s AND kind = 'generating'", quotation_id) == 2,
             90, lambda: f"the cut-off host's job was not retried\n{stack.all_logs()}")
    retried_after = time.monotonic() - cut_at
    submitter.join(timeout=120)
    wait_for(lambda: sent(stack) == QUOTATIONS, 180,
             lambda: f"{sent(stack)} of {QUOTATIONS} sent\n{stack.all_logs()}")
    storage, outbox = tmp_path / "storage", tmp_path / "outbox"
    before = (pdf_files(storage), query(stack.database_url, "SELECT * FROM quotation_events "
                                                            "ORDER BY id"))

    hosts.restore(cut_off)
    wait_for(lambda: "its result is ignored" in stack.log("host-2.log", whole=True), 90,
             lambda: f"the cut-off host never came back\n{stack.log('host-2.log')}")

    assert retried_after <= 60, retried_after
    assert_all_sent_once(stack, QUOTATIONS, outbox)
    after = (pdf_files(storage), query(stack.database_url, "SELECT * FROM quotation_events "
                                                           "ORDER BY id"))
    assert after == before  # no second PDF, not even the same one written again; no record
    assert len(before[0]) == QUOTATIONS
    [(attempt, error)] = query(stack.database_url, "SELECT attempt, error FROM job_failures "
                                                   "WHERE job_id = %s", job_id)
    assert attempt == 1 and error.startswith("WorkerLost: worker "), error
    assert all(p.poll() is None for p in stack.processes), stack.all_logs()
    # The host is a worker like the others again.
    wait_for(lambda: count(stack.database_url, "SELECT count(*) FROM workers WHERE host = %s "
                           "AND silent_for < interval '10 seconds'", cut_off.name) == 1,
             30, lambda: stack.log("host-2.log"))
    print(f"the cut-off host's job was retried {retried_after:.1f} s after the cut")
