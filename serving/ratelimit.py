"""Counting failed API keys: a sliding window per client address and per key id.

The counts live in the memory of one API process: a deployment with several processes (or
several machines) allows each of them the limit, and a restart forgets the counts. Tarozu
runs one process per server (``tarozu serve``), so the limit holds as configured there. The
256-bit secret of a key cannot be guessed online at any rate; the limit stops a client that
keeps presenting wrong or revoked keys from hammering the service and makes the attempt
visible (every failure is logged with its key id and client address).
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

MAX_TRACKED = 10_000
"""Names (addresses, key ids) remembered at most; the least recently seen is forgotten first."""


class FailureWindow:
    """At most ``limit`` failures per name in any ``window`` seconds.

    :meth:`retry_after` says how long a name must wait before its next attempt counts (0:
    it may try now); :meth:`fail` records a failure. Memory is bounded: each name keeps at
    most ``limit`` timestamps, and at most ``max_tracked`` names are kept. ``limit=0`` turns
    the window off.
    """

    def __init__(
        self,
        *,
        limit: int,
        window: float,
        max_tracked: int = MAX_TRACKED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_tracked = max_tracked
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, name: str | None) -> float:
        if not self.limit or name is None:
            return 0.0
        failures = self._failures.get(name)
        if failures is None or len(failures) < self.limit:
            return 0.0
        wait = failures[0] + self.window - self.clock()
        return wait if wait > 0 else 0.0

    def fail(self, name: str | None) -> int:
        """Record a failure of ``name``; returns the failures counted in the window now."""
        if not self.limit or name is None:
            return 0
        now = self.clock()
        failures = self._failures.pop(name, None)
        if failures is None:
            failures = deque(maxlen=self.limit)
        failures.append(now)
        self._failures[name] = failures  # most recently seen last
        while len(self._failures) > self.max_tracked:
            self._failures.popitem(last=False)
        return sum(1 for t in failures if now - t < self.window)

    def forget(self, name: str) -> None:
        self._failures.pop(name, None)


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


@functools.lru_cache(maxsize=4096)  # asked on every request with a key; the same few clients
def client_name(host: str | None) -> str | None:
    """The name a client address is counted under: the address, or its /64 for IPv6.

    One IPv6 host usually has a whole /64 to itself, so counting single addresses would let
    it pick a fresh one for every attempt.
    """
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class AuthFailures:
    """The two windows of failed keys: per client address and per key id."""

    def __init__(self, *, per_client: int, per_key_id: int, window: float) -> None:
        self.clients = FailureWindow(limit=per_client, window=window)
        self.key_ids = FailureWindow(limit=per_key_id, window=window)
