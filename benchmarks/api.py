"""Serving benchmark: Tarozu's explained screening against `mlflow models serve` and the server's floor.

Same registered model, same machine, same load generator (wrk, concurrency 8, one worker
per server), measured side by side in interleaved rounds:

- ``POST /v1/screenings`` (one case, explained in the default compact form, written to the audit log);
- ``GET /health`` on the same server (the floor of this stack);
- ``POST /invocations`` on ``mlflow models serve`` of the same model (no explanation).

During each screening round, what the server's processes used (:func:`under_load`): the API process's
CPU a screening, its share of a core and how often it waited with no request ready, the audit writer's
CPU and the machine's idle share; the API process is the bound, and the 30x target becomes a CPU budget
for it. Also: a batch of 1,000 cases (compact, logged), the time from process start until ``/ready``, and
where a screening's CPU goes, step by step (:mod:`benchmarks.request_path`, which also gives the
batch's server time through the app and the fsync's share of a group commit). The issue's targets are
printed side by side at the end, each with its measured figure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from benchmarks import procfs

CONCURRENCY = 8
DURATION_S = 10
ROUNDS = 2
BATCH_HEALTH_REQUESTS = 2000
"""The batch's nearest honest goal, in the time the same server takes for that many ``/health`` requests:
400 ms on a day it answers 5,000 a second (the goal was set in milliseconds on such days)."""
CASE = {
    "consent": True,
    "answers": {
        "documents_withheld": "yes",
        "excessive_hours": "yes",
        "debt_bondage": "no",
        "threats": "dont_know",
        "isolation": "declined",
    },
    "not_asked_reasons": {"sexual_violence": "not_safe_here"},
    "danger": "no",
    "context": {"destination": "RUS", "sector": "construction", "months_abroad": 14, "migrant_status": "returnee"},
    "monitoring": {"gender": "man", "age_band": "30-38"},
    "lang": "en",
    "screener_assessment": "medium",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, *, timeout: float, proc: subprocess.Popen[bytes]) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} was ready")
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"{url} not ready after {timeout} s")


def wrk(url: str, *, body: str | None, headers: dict[str, str], work: Path) -> dict[str, float]:
    script = work / "wrk.lua"
    lines = [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    if body is not None:
        lines += ['wrk.method = "POST"', f"wrk.body = [==[{body}]==]"]
    lines += [
        "done = function(summary, latency, requests)",
        '  io.write(string.format("P50 %f\\nP99 %f\\nERRORS %d\\n", latency:percentile(50), '
        "latency:percentile(99), summary.errors.status + summary.errors.connect + summary.errors.timeout))",
        "end",
    ]
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONCURRENCY}", f"-d{DURATION_S}s", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = float(re.search(r"P50 ([\d.]+)", out).group(1)) / 1000  # type: ignore[union-attr]
    p99 = float(re.search(r"P99 ([\d.]+)", out).group(1)) / 1000  # type: ignore[union-attr]
    errors = int(re.search(r"ERRORS (\d+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors, "requests": requests}


def under_load(pid: int, load: Callable[[], dict[str, float]]) -> dict[str, float]:
    """``load()`` (a wrk round on the server of ``pid``) with what the server's processes used meanwhile:
    the API process's CPU per request (``api_us``; of it the kernel's, ``kernel_us``), its waits per 100
    requests (times it gave up the CPU with no request ready), its share of a core (``api_cores``), the
    CPU per request of its child processes (``writer_us``: the audit writer's), and how much of the
    machine idled (``idle``)."""
    others = procfs.children(pid)  # the audit writer's process
    api, writer = procfs.usage(pid), [procfs.usage(c) for c in others]
    ticks, start = procfs.machine_ticks(), time.perf_counter()
    result = load()
    seconds = time.perf_counter() - start
    api = procfs.usage(pid) - api
    writer_s = sum((procfs.usage(c) - w).cpu_s for c, w in zip(others, writer, strict=True))
    idle, total = (after - before for after, before in zip(procfs.machine_ticks(), ticks, strict=True))
    n = max(result["requests"], 1)
    return {
        **result,
        "api_us": api.cpu_s / n * 1e6,
        "kernel_us": api.kernel_s / n * 1e6,
        "waits_per_100": api.waits / n * 100,
        "api_cores": api.cpu_s / seconds,
        "writer_us": writer_s / n * 1e6,
        "idle": idle / max(total, 1),
    }


def disk_fsync_ms(folder: Path, *, seconds: float = 5.0) -> dict[str, float]:
    """The disk's own fdatasync latency (16 KB appends to a file in ``folder``): the floor under the p99 of
    a screening, which is answered only after its commit's fsync."""
    import numpy as np

    path = folder / "fsync-probe.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block, latencies = os.urandom(16384), []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            os.write(fd, block)
            start = time.perf_counter()
            os.fdatasync(fd)
            latencies.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()
    ms = np.array(latencies) * 1000
    return {"p50": float(np.median(ms)), "p99": float(np.percentile(ms, 99)), "max": float(ms.max())}


def ensure_model(work: Path | None) -> Path:
    """A work folder whose MLflow registry has a @champion (trains a small one if needed)."""
    from pipeline import registration
    from serving import registry

    if work is None:
        work = Path(tempfile.mkdtemp(prefix="tarozu-bench-api-"))
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
        from pipeline.config import load_config
        from pipeline.train import train

        cwd = Path.cwd()
        os.chdir(work)
        try:
            config = load_config()
            train(
                config.model_copy(update={"data": config.data.model_copy(update={"rows": 20_000})}),
                console=Console(stderr=True, quiet=True),
            )
        finally:
            os.chdir(cwd)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
    version = registry.alias_version(name=registry.MODEL_NAME, alias=registry.CHALLENGER)
    registration.set_alias(name=registry.MODEL_NAME, alias=registry.CHAMPION, version=version.version)
    return Path(work)


def main(*, work: str | None = None) -> dict[str, Any]:
    console = Console()
    if shutil.which("wrk") is None:
        console.print("api benchmark: wrk is not installed (make bench installs it from Debian's packages)")
        return {}
    folder = ensure_model(Path(work) if work else None)
    env = dict(os.environ)
    env.update(
        {
            "TAROZU_ENVIRONMENT": "development",
            "TAROZU_DATABASE_URL": f"sqlite:///{folder / 'bench-audit.db'}",
            "OPENBLAS_NUM_THREADS": "1",
        }
    )
    bin_dir = Path(sys.executable).parent
    # `mlflow models serve --env-manager local` starts `uvicorn` by name.
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    from serving.auditlog.database import make_engine, run_migrations
    from serving.keys import create_key

    engine = make_engine(env["TAROZU_DATABASE_URL"])
    run_migrations(engine)
    key = create_key(engine, role="screener", label="benchmark")["key"]
    bulk_key = create_key(engine, role="data-scientist", label="benchmark")["key"]  # bulk scoring
    engine.dispose()

    t_port, m_port = free_port(), free_port()
    start = time.perf_counter()
    tarozu = subprocess.Popen(
        [str(bin_dir / "tarozu"), "serve", "--port", str(t_port)],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    mlflow_srv = None
    try:
        wait_ready(f"http://127.0.0.1:{t_port}/ready", timeout=60, proc=tarozu)
        ready_s = time.perf_counter() - start
        mlflow_srv = subprocess.Popen(
            [
                str(bin_dir / "mlflow"),
                "models",
                "serve",
                "-m",
                "models:/tarozu-screening@champion",
                "--env-manager",
                "local",
                "-p",
                str(m_port),
                "--host",
                "127.0.0.1",
                "-w",
                "1",
            ],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        mlflow_ready = wait_ready(f"http://127.0.0.1:{m_port}/ping", timeout=120, proc=mlflow_srv)
        auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        body = json.dumps(CASE)
        flat = {**CASE["answers"], **{k: str(v) for k, v in CASE["context"].items()}}
        mlflow_body = json.dumps({"dataframe_records": [flat]})
        runs: dict[str, list[dict[str, float]]] = {"screening": [], "health": [], "mlflow": []}
        work_dir = Path(tempfile.mkdtemp())
        for _ in range(ROUNDS):
            screen = partial(wrk, f"http://127.0.0.1:{t_port}/v1/screenings", body=body, headers=auth, work=work_dir)
            runs["screening"].append(under_load(tarozu.pid, screen))
            runs["health"].append(wrk(f"http://127.0.0.1:{t_port}/health", body=None, headers={}, work=work_dir))
            runs["mlflow"].append(
                wrk(
                    f"http://127.0.0.1:{m_port}/invocations",
                    body=mlflow_body,
                    headers={"Content-Type": "application/json"},
                    work=work_dir,
                )
            )
        best = {k: max(v, key=lambda r: r["rps"]) for k, v in runs.items()}
        disk = disk_fsync_ms(folder)
        bulk_case = {k: v for k, v in CASE.items() if k not in ("screener_assessment", "case_ref")}
        batch = json.dumps({"cases": [bulk_case] * 1000}).encode()  # encoded once, outside the timing
        bulk_auth = {**auth, "Authorization": f"Bearer {bulk_key}"}
        with httpx.Client(timeout=60) as client:
            url = f"http://127.0.0.1:{t_port}/v1/screenings:batch"
            client.post(url, content=batch, headers=bulk_auth)
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                r = client.post(url, content=batch, headers=bulk_auth)
                times.append(time.perf_counter() - t0)
                r.raise_for_status()
    finally:
        for proc in (tarozu, mlflow_srv):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=20)
    table = Table(title=f"Serving, wrk -c{CONCURRENCY}, {DURATION_S}s x {ROUNDS} interleaved rounds (best round)")
    for col in ("endpoint", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(col)
    names = {
        "screening": "Tarozu POST /v1/screenings (compact, explained, logged)",
        "health": "Tarozu GET /health (floor)",
        "mlflow": "mlflow models serve POST /invocations",
    }
    for k, r in best.items():
        table.add_row(names[k], f"{r['rps']:.0f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}", str(int(r["errors"])))
    console.print(table)
    loaded = best["screening"]
    budget_us = 1e6 / (30 * best["mlflow"]["rps"])  # of one core, a screening, for 30x
    console.print(
        f"under wrk -c{CONCURRENCY}, the best screening round: the API process used {loaded['api_cores']:.2f} of "
        f"a core, {loaded['api_us']:.0f} us of CPU a screening ({loaded['kernel_us']:.0f} us of it in the "
        f"kernel), and waited {loaded['waits_per_100']:.1f} times per 100 screenings with no request ready; "
        f"the audit writer's process {loaded['writer_us']:.0f} us a screening, on the other core; the machine "
        f"{loaded['idle']:.0%} idle. The API process bounds the rate: 30x mlflow models serve "
        f"({30 * best['mlflow']['rps']:,.0f} a second) needs under {budget_us:.0f} us of it a screening"
    )
    from benchmarks import request_path
    from serving.registry import load_registered

    steps = request_path.main(load_registered(), CASE)
    s, h, m = best["screening"]["rps"], best["health"]["rps"], best["mlflow"]["rps"]
    p99 = best["screening"]["p99_ms"]
    rounds_p99 = ", ".join(f"{r['p99_ms']:.1f}" for r in runs["screening"])
    console.print(
        f"this disk's fdatasync (16 KB appends for 5 s, the servers idle): p50 {disk['p50']:.2f} ms, "
        f"p99 {disk['p99']:.2f} ms, max {disk['max']:.0f} ms; a stall holds every screening waiting on that commit"
    )
    # the batch in the same run's /health requests: a measure that moves less with the machine than milliseconds
    batch_in_health = max(steps["batch_ms"], steps["batch_varied_ms"]) / 1000 * h
    targets = Table(title="Issue 16's targets, measured in this run (README: Speed targets)")
    for col in ("target", "measured", "goal", "met", "nearest honest goal"):
        targets.add_column(col)
    rows = [
        (
            "POST /v1/screenings req/s vs mlflow models serve",
            f"{s:.0f} / {m:.0f} = {s / m:.1f}x (the API process: {loaded['api_us']:.0f} us a screening at "
            f"{loaded['api_cores']:.2f} of a core; 30x needs under {budget_us:.0f})",
            ">= 30x",
            s / m >= 30,
            ">= 15x",
        ),
        (
            "POST /v1/screenings req/s vs the same server's /health",
            f"{s:.0f} / {h:.0f} = {s / h:.2f}",
            ">= 0.5",
            s / h >= 0.5,
            ">= 0.12 (0.5 conflicts with logging and explaining every screening)",
        ),
        (
            f"POST /v1/screenings p99 at c{CONCURRENCY}",
            f"{p99:.2f} ms (each round: {rounds_p99} ms; at {s:.0f} a second, {CONCURRENCY} in flight wait "
            f"{CONCURRENCY / s * 1000:.1f} ms on average: Little's law)",
            "< 10 ms",
            p99 < 10,
            f"< 20 ms while the disk's fsync is steady (< 10 ms needs over {CONCURRENCY * 100} a second: "
            "an average under 10 ms)",
        ),
        (
            "batch of 1,000 compact cases, server time (through the app, logged)",
            f"{steps['batch_ms']:.0f} ms (1,000 varied cases: {steps['batch_varied_ms']:.0f} ms; round trip on "
            f"loopback: {min(times) * 1000:.0f} ms): the time of {batch_in_health:,.0f} /health requests",
            "< 50 ms",
            steps["batch_ms"] < 50,
            f"< {BATCH_HEALTH_REQUESTS:,} /health requests' time, varied cases too (400 ms at 5,000 /health a second; "
            "the 1,000 settled checks, taken together, use about 50 ms alone)",
        ),
        (
            "ready after start",
            f"{ready_s:.2f} s (mlflow models serve: {mlflow_ready:.2f} s)",
            "< 3 s",
            ready_s < 3,
            "< 3 s",
        ),
    ]
    for name, measured, goal, met, honest in rows:
        targets.add_row(name, measured, goal, "yes" if met else "NO", honest)
    console.print(targets)
    return {
        "best": best,
        "rounds": runs,
        "disk_fsync_ms": disk,
        "ready_s": ready_s,
        "steps_us": steps,
        "batch_round_trip_ms": min(times) * 1000,
        "batch_in_health_requests": batch_in_health,
    }
