"""Hosts of the test's own: network namespaces on one bridge, to be cut off and brought back.

The bridge lives in this machine's namespace with the gateway address (where the test's own
PostgreSQL listens); each host is a namespace with one veth pair onto the bridge and its own
loopback. Cutting a host sets the bridge's end of its pair down: its packets are dropped, as
with an unplugged cable or a lost machine, and nothing answers it (no refused connection).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass


class NamespacesUnavailable(Exception):
    """This machine does not let the tests create network namespaces."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check,
                          timeout=30)


@dataclass(frozen=True)
class Host:
    name: str      # the namespace
    link: str      # the bridge's end of its veth pair
    address: str

    @property
    def run_prefix(self) -> tuple[str, ...]:
        """Prefix a command with this to run it on the host, under the host's own name."""
        return ("ip", "netns", "exec", self.name, "unshare", "--uts", "sh", "-c",
                'hostname "$0" && exec "$@"', self.name)


@dataclass(frozen=True)
class HostNetwork:
    bridge: str
    gateway: str
    hosts: tuple[Host, ...]

    def cut(self, host: Host) -> None:
        _ip("link", "set", host.link, "down")

    def restore(self, host: Host) -> None:
        _ip("link", "set", host.link, "up")


@contextlib.contextmanager
def host_network(count: int) -> Iterator[HostNetwork]:
    """`count` hosts on a private /24 (names and subnet derived from this process, so that two
    test runs do not meet), removed afterwards. Raise NamespacesUnavailable when namespaces
    cannot be created here."""
    tag = os.getpid() % 10_000
    subnet = f"10.{200 + os.getpid() % 50}.{os.getpid() % 250}"
    network = HostNetwork(
        bridge=f"qsbr{tag}", gateway=f"{subnet}.1",
        hosts=tuple(Host(name=f"qs{tag}h{i}", link=f"qs{tag}v{i}", address=f"{subnet}.{10 + i}")
                    for i in range(1, count + 1)))
    try:
        probe = _ip("netns", "add", network.hosts[0].name, check=False)
        if probe.returncode != 0:
            raise NamespacesUnavailable(probe.stderr.strip() or "ip netns add failed")
        _ip("link", "add", network.bridge, "type", "bridge")
        _ip("addr", "add", f"{network.gateway}/24", "dev", network.bridge)
        _ip("link", "set", network.bridge, "up")
        for index, host in enumerate(network.hosts):
            if index:
                _ip("netns", "add", host.name)
            _ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns",
                host.name)
            _ip("link", "set", host.link, "master", network.bridge)
            _ip("link", "set", host.link, "up")
            inside = ["-n", host.name]
            _ip(*inside, "addr", "add", f"{host.address}/24", "dev", "eth0")
            _ip(*inside, "link", "set", "eth0", "up")
            _ip(*inside, "link", "set", "lo", "up")
        yield network
    finally:
        for host in network.hosts:
            _ip("link", "del", host.link, check=False)
            _ip("netns", "del", host.name, check=False)
        _ip("link", "del", network.bridge, check=False)
