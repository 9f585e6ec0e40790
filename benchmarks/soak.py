"""Soak: bounded load against a live loopback server, watching errors, memory and latency.

``python -m benchmarks.soak [--seconds 600] [--concurrency 8]`` starts the API (the test
launcher, on a fresh SQLite audit log), screens cases from ``concurrency`` threads for
``seconds``, and checks: no errors, the server's RSS (``/proc/<pid>/status``, the API process and
its audit writer's process together) grows by less than 10% after warm-up, and the server's CPU
per screening in the last window is no more than in the first beyond noise. The p50 latency of
both windows is reported beside it; it is not the verdict, because it also measures whatever
else the machine runs (the test suite's other worker once took it from 12.9 to 22.7 ms while
the server alone stayed flat). The CPU per screening shares the cores too (on a machine whose two
cores behave like two threads of one, the other test worker once took it from 0.96 to 1.72 ms), so
``tests/reliability/test_soak.py`` runs one minute of it alone, after the other tests.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks import procfs

ROOT = Path(__file__).resolve().parents[1]
RSS_GROWTH_MAX = 0.10
CPU_NOISE_RATIO = 1.5  # the last window's CPU per screening may be at most this times the first's
SECRET = "soak-secret-" + "s" * 40


@dataclass
class SoakResult:
    seconds: float
    concurrency: int
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)
    cpu_s: list[tuple[float, float]] = field(default_factory=list)  # (time since start, server CPU seconds)
    samples: list[tuple[float, float]] = field(default_factory=list)  # (time since start, ms)
    window: float = 60.0
    warmup: float = 10.0

    def p50(self, start: float, end: float) -> float:
        values = [ms for t, ms in self.samples if start <= t < end]
        return statistics.median(values) if values else float("nan")

    @property
    def p50_first(self) -> float:
        return self.p50(self.warmup, self.warmup + self.window)

    @property
    def p50_last(self) -> float:
        return self.p50(self.seconds - self.window, self.seconds + 1)

    def cpu_ms_per_request(self, start: float, end: float) -> float:
        """The server's CPU (both processes) per screening answered between two of its CPU readings."""
        inside = [(t, cpu) for t, cpu in self.cpu_s if start <= t <= end]
        if len(inside) < 2:
            return float("nan")
        (t0, cpu0), (t1, cpu1) = inside[0], inside[-1]
        answered = sum(1 for t, _ in self.samples if t0 <= t < t1)
        return (cpu1 - cpu0) / answered * 1000 if answered else float("nan")

    @property
    def cpu_first(self) -> float:
        return self.cpu_ms_per_request(self.warmup, self.warmup + self.window)

    @property
    def cpu_last(self) -> float:
        return self.cpu_ms_per_request(self.seconds - self.window, self.seconds + 1)

    @property
    def rss_after_warmup(self) -> float:
        return next(mb for t, mb in self.rss_mb if t >= self.warmup)

    @property
    def rss_end(self) -> float:
        return self.rss_mb[-1][1]

    @property
    def rss_growth(self) -> float:
        return self.rss_end / self.rss_after_warmup - 1.0

    def problems(self) -> list[str]:
        found = []
        if self.errors:
            found.append(f"{len(self.errors)} errors, first: {self.errors[0]}")
        if self.rss_growth >= RSS_GROWTH_MAX:
            found.append(f"RSS grew {self.rss_growth:.1%} after warm-up (limit {RSS_GROWTH_MAX:.0%})")
        if not self.cpu_last <= self.cpu_first * CPU_NOISE_RATIO:
            found.append(f"the server's CPU per screening went from {self.cpu_first:.2f} ms to {self.cpu_last:.2f} ms")
        return found

    def report(self) -> str:
        ordered = sorted(ms for _, ms in self.samples)
        p99 = ordered[int(0.99 * (len(ordered) - 1))] if ordered else float("nan")
        return "\n".join(
            [
                f"soak: {self.seconds:.0f} s at concurrency {self.concurrency}: {self.requests} screenings "
                f"({self.requests / self.seconds:.0f}/s), {len(self.errors)} errors",
                f"  latency p50 first window {self.p50_first:.2f} ms, last window {self.p50_last:.2f} ms "
                f"(windows of {self.window:.0f} s after {self.warmup:.0f} s warm-up); overall p99 {p99:.2f} ms",
                f"  server CPU per screening first window {self.cpu_first:.2f} ms, last window {self.cpu_last:.2f} ms",
                f"  server RSS (both processes) {self.rss_after_warmup:.1f} MB after warm-up, "
                f"{self.rss_end:.1f} MB at the end "
                f"({self.rss_growth:+.1%}); peak {max(mb for _, mb in self.rss_mb):.1f} MB",
                "  verdict: " + ("; ".join(self.problems()) or "OK (no errors, memory flat, CPU per screening steady)"),
            ]
        )


def rss_mb(pid: int) -> float:
    """Resident memory of the server's processes together, MB."""
    return sum(procfs.rss_mb(one) for one in procfs.family(pid))


def cpu_seconds(pid: int) -> float:
    """CPU (user and system) of the server's processes together so far, seconds."""
    return sum(procfs.usage(one).cpu_s for one in procfs.family(pid))


def soak_cases() -> list[dict[str, Any]]:
    """The documented example and interviews that stop early: what screeners send."""
    from serving.schemas import SCREENING_EXAMPLE

    return [
        SCREENING_EXAMPLE,
        {
            "consent": True,
            "answers": {"deceived_wages": "yes", "economic_pressure": "dont_know", "recruitment_debt": "declined"},
            "not_asked_reasons": {"recruitment_violence": "deferred"},
            "danger": "not_asked",
            "context": {"migrant_status": "prospective", "months_abroad": 0},
            "lang": "ru",
            "screener_assessment": "low",
        },
        {
            "consent": True,
            "answers": {"lost_contact": "yes", "threat_to_tell_family": "no", "could_not_leave": "dont_know"},
            "danger": "yes",
            "context": {"migrant_status": "family_member"},
            "lang": "tg",
            "screener_assessment": "high",
        },
    ]


def soak(*, url: str, key: str, pid: int, seconds: float, concurrency: int) -> SoakResult:
    """Screen the soak cases in turn from ``concurrency`` threads for ``seconds``."""
    cases = soak_cases()
    window = min(60.0, seconds / 4)
    result = SoakResult(seconds=seconds, concurrency=concurrency, window=window, warmup=min(10.0, seconds / 6))
    lock = threading.Lock()
    start = time.monotonic()
    end = start + seconds

    def client() -> None:
        mine: list[tuple[float, float]] = []
        errors: list[str] = []
        with httpx.Client(base_url=url, timeout=30.0, headers={"X-API-Key": key}) as http:
            sent = 0
            while (t0 := time.monotonic()) < end:
                try:
                    r = http.post("/v1/screenings", json=cases[sent % len(cases)])
                    sent += 1
                    if r.status_code != 201:
                        errors.append(f"{r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                mine.append((t0 - start, (time.monotonic() - t0) * 1000))
        with lock:
            result.samples.extend(mine)
            result.errors.extend(errors)

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    while (now := time.monotonic()) < end:
        result.rss_mb.append((now - start, rss_mb(pid)))
        result.cpu_s.append((now - start, cpu_seconds(pid)))
        time.sleep(min(1.0, max(0.0, end - now)))
    for t in threads:
        t.join(timeout=60)
    result.rss_mb.append((time.monotonic() - start, rss_mb(pid)))
    result.cpu_s.append((time.monotonic() - start, cpu_seconds(pid)))
    result.requests = len(result.samples)
    return result


def start_server(work: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """The test launcher on a fresh SQLite log in ``work``; returns (process, url, screener key)."""
    from serving.auditlog.database import make_engine, run_migrations
    from serving.keys import create_key

    db_url = f"sqlite:///{work / 'audit.db'}"
    engine = make_engine(db_url)
    run_migrations(engine)
    key = create_key(engine, role="screener", label="soak")["key"]
    engine.dispose()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "OPENBLAS_NUM_THREADS": "1",
        "TAROZU_ENVIRONMENT": "production",
        "TAROZU_HMAC_SECRET": SECRET,
        "TAROZU_DATABASE_URL": db_url,
    }
    log = (work / "server.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.launcher", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((work / "server.log").read_text()[-2000:])
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return proc, url, key
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server not ready in 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(*, seconds: float, concurrency: int) -> SoakResult:
    with tempfile.TemporaryDirectory(prefix="tarozu-soak-") as tmp:
        proc, url, key = start_server(Path(tmp))
        try:
            return soak(url=url, key=key, pid=proc.pid, seconds=seconds, concurrency=concurrency)
        finally:
            stop(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak")
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    result = run(seconds=args.seconds, concurrency=args.concurrency)
    print(result.report())
    return 1 if result.problems() else 0


if __name__ == "__main__":
    raise SystemExit(main())
