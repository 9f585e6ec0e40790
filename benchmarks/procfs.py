"""What Linux counts of a process and of the machine (``/proc``), read by the benchmarks around a load.

A server's CPU for each request it answered, how often it gave the CPU up to wait, its memory and its
children (the audit writer's process), and how much of the machine idled meanwhile: the figures that
say which process bounds a rate, and whether a core waited while another was full.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICK_S = 1 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    """A process's counts so far: CPU seconds of all its threads (user and kernel), of them the kernel's,
    and its main thread's waits (voluntary context switches: each time it gave up the CPU with nothing to
    run, as a server's event loop does when no request is ready)."""

    cpu_s: float
    kernel_s: float
    waits: int

    def __sub__(self, other: Usage) -> Usage:
        return Usage(self.cpu_s - other.cpu_s, self.kernel_s - other.kernel_s, self.waits - other.waits)


def children(pid: int) -> list[int]:
    """The processes ``pid`` started that still run."""
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def family(pid: int) -> list[int]:
    """``pid`` and its children."""
    return [pid, *children(pid)]


def usage(pid: int) -> Usage:
    """The counts of ``pid`` (every thread of it) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    user, kernel = int(fields[11]) * TICK_S, int(fields[12]) * TICK_S
    waits = next(
        int(line.split(":")[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("voluntary_ctxt_switches:")
    )
    return Usage(user + kernel, kernel, waits)


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid``, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0  # a process that has exited to a zombie keeps no memory


def machine_ticks() -> tuple[int, int]:
    """The machine's clock ticks so far over all its CPUs: idle (waiting for the disk included), and all."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return values[3] + values[4], sum(values)
