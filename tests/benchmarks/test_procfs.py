"""The benchmarks' readings of /proc: what a process used, its children, and the machine's idle ticks."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from benchmarks import procfs


def busy(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_usage_counts_cpu_and_waits_of_a_process() -> None:
    before = procfs.usage(os.getpid())
    busy(0.2)
    for _ in range(20):
        time.sleep(0.002)  # each sleep gives up the CPU: a wait
    used = procfs.usage(os.getpid()) - before
    assert 0.15 <= used.cpu_s <= 2.0
    assert 0.0 <= used.kernel_s <= used.cpu_s
    assert used.waits >= 20


def test_children_are_the_processes_started_and_still_running() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in procfs.children(os.getpid())
        assert procfs.family(os.getpid())[0] == os.getpid()
        assert child.pid in procfs.family(os.getpid())
        assert procfs.usage(child.pid).cpu_s >= 0
    finally:
        child.kill()
        child.wait()
    assert child.pid not in procfs.children(os.getpid())


def test_rss_is_the_memory_a_process_holds() -> None:
    before = procfs.rss_mb(os.getpid())
    held = bytearray(64 * 1024 * 1024)
    held[::4096] = b"\x01" * len(range(0, len(held), 4096))  # a byte written in every page: all resident
    try:
        assert procfs.rss_mb(os.getpid()) - before > 50
    finally:
        del held


def test_machine_ticks_grow_and_idle_is_part_of_them() -> None:
    idle, total = procfs.machine_ticks()
    busy(0.1)
    time.sleep(0.1)
    idle_after, total_after = procfs.machine_ticks()
    assert total_after > total
    assert 0 <= idle_after - idle <= total_after - total
