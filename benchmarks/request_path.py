"""Where a screening's time goes: CPU per request of each step, measured in one process.

The API benchmark measures the server from outside (wrk); this one explains its figures. It
drives the real app in-process through ASGI (no sockets), eight requests at a time, and
times, side by side in one run:

- ``GET /health`` and ``POST /v1/screenings`` end to end (the CPU of the API process and of the
  audit writer's process, so the writer's work is included), and the same route with the work
  replaced by a fixed reply;
- the steps of a screening alone: validating the request, encoding, assessing (both outcomes,
  the uncertainty ensemble and the outlook of the questions not yet asked), rendering the
  explained response (compact, the default, and full), and appending the row to the audit
  log (a commit with fsync, shared by eight rows as under load), and the fsync's share of it;
- the same steps for a batch of 1,000 cases, and the batch request through the app (its server time);
- commits of screenings with the served time-ordered ids against random version-4 ids, interleaved;
- the CPU of one screening's steps one after another, and the same right after the process slept
  1 ms (as it does here, where the eight requests wait on each group commit together): this
  machine's cores are slower to come back from idle, part of what the table calls the rest. Under
  wrk the server hardly ever sleeps (:func:`benchmarks.api.under_load` counts its waits).

The "budget" line is what one screening may cost for the throughput targets of the issue
(half the requests per second of ``/health``).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks import procfs

ID_ORDER_COMMITS = 6000
"""Commits of the id-order comparison, into each log (about 2 x 6,000 x 0.5 ms)."""
CONCURRENCY = 8
IDLE_S = 0.001
"""The pause before a screening's steps in the idle comparison: about one group commit's fsync."""


def _per_call(fn: Callable[[], Any], *, number: int) -> float:
    """Seconds per call: the best of five repeats (the least disturbed by the machine)."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def _cpu_after(fn: Callable[[], Any], *, pause: float, number: int) -> float:
    """CPU seconds of one call of ``fn`` made ``pause`` seconds after the last (the thread asleep
    in between; none: one after another), the median of ``number`` calls."""
    times = []
    for _ in range(number):
        if pause:
            time.sleep(pause)
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return float(np.median(times))


class _AsgiDriver:
    """Calls an ASGI app directly, as uvicorn would, and keeps nothing of the response."""

    def __init__(self, app: Any, key: str) -> None:
        self.app = app
        self.key = key

    async def call(self, path: str, method: str = "GET", body: bytes = b"") -> int:
        headers = [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {self.key}".encode()),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        delivered = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # never disconnects
            return {}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status

    async def wall_per_request(self, path: str, method: str = "POST", body: bytes = b"", *, n: int) -> float:
        """Wall seconds of one request at a time through the app (the server's time: no sockets, no client),
        the best of ``n``."""
        await self.call(path, method, body)  # warm up
        best = float("inf")
        for _ in range(n):
            start = time.perf_counter()
            status = await self.call(path, method, body)
            best = min(best, time.perf_counter() - start)
            if status >= 300:
                raise RuntimeError(f"{method} {path} answered {status}")
        return best

    async def cpu_per_request(
        self, path: str, method: str = "GET", body: bytes = b"", *, n: int
    ) -> tuple[float, float]:
        """CPU seconds per request of the API process (every thread) and of the audit writer's process,
        at CONCURRENCY requests in flight."""
        for _ in range(2):  # warm up
            await asyncio.gather(*[self.call(path, method, body) for _ in range(CONCURRENCY)])
        start, writer_start = time.process_time(), self.writer_cpu()
        for _ in range(n // CONCURRENCY):
            statuses = await asyncio.gather(*[self.call(path, method, body) for _ in range(CONCURRENCY)])
            if any(s >= 300 for s in statuses):
                raise RuntimeError(f"{method} {path} answered {statuses}")
        done = n // CONCURRENCY * CONCURRENCY
        return (time.process_time() - start) / done, (self.writer_cpu() - writer_start) / done

    def writer_cpu(self) -> float:
        """CPU seconds (user and system) of the audit writer's process so far."""
        return procfs.usage(self.app.state.services.writer._process.pid).cpu_s


def _writer_cpu_per_row(engine: Any, row: dict[str, Any], *, per_commit: int, commits: int) -> float:
    """CPU (both user and system, so fsync's share too) of appending rows, per row."""
    from serving.auditlog.writer import AppendScreenings, Committer
    from serving.usecases import new_screening_id

    committer = Committer(engine)
    start = time.process_time()
    for _ in range(commits):
        committer.write([AppendScreenings([{**row, "screening_id": new_screening_id()}]) for _ in range(per_commit)])
    committer.close()
    return (time.process_time() - start) / (commits * per_commit)


def _commit_wall(url: str, row: dict[str, Any], *, synchronous: str, per_commit: int, commits: int) -> float:
    """Wall seconds of one commit of ``per_commit`` rows, with SQLite's ``synchronous`` as given (FULL
    is the server's: fsync at every commit; OFF leaves the fsync out, to measure its share)."""
    from sqlalchemy import event

    from serving.auditlog.database import make_engine
    from serving.auditlog.writer import AppendScreenings, Committer
    from serving.usecases import new_screening_id

    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _synchronous(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA synchronous={synchronous}")

    committer = Committer(engine)
    times = []
    for _ in range(commits):
        ops = [AppendScreenings([{**row, "screening_id": new_screening_id()}]) for _ in range(per_commit)]
        start = time.perf_counter()
        committer.write(ops)
        times.append(time.perf_counter() - start)
    committer.close()
    engine.dispose()
    return sorted(times)[len(times) // 2]  # the median


def _commits_by_id_order(
    work: Path, row: dict[str, Any], *, per_commit: int, commits: int
) -> dict[str, tuple[float, float, float]]:
    """Commit wall time (ms: p50, p99, max) of screenings with the served time-ordered ids and with random
    version-4 ids, each into a fresh log of its own, the two interleaved commit by commit so that both
    meet the same disk."""
    import uuid

    from serving.auditlog.database import make_engine, run_migrations
    from serving.auditlog.writer import AppendScreenings, Committer
    from serving.usecases import new_screening_id

    makers = {"time-ordered": new_screening_id, "random": lambda: str(uuid.uuid4())}
    committers, engines = {}, []
    for name in makers:
        engine = make_engine(f"sqlite:///{work / f'ids-{name}.db'}")
        run_migrations(engine)
        engines.append(engine)
        committers[name] = Committer(engine)
    times: dict[str, list[float]] = {name: [] for name in makers}
    for i in range(commits):
        for name in list(makers)[:: 1 if i % 2 else -1]:
            ops = [AppendScreenings([{**row, "screening_id": makers[name]()}]) for _ in range(per_commit)]
            start = time.perf_counter()
            committers[name].write(ops)
            times[name].append((time.perf_counter() - start) * 1e3)
    for committer in committers.values():
        committer.close()
    for engine in engines:
        engine.dispose()
    return {
        name: (float(np.percentile(t, 50)), float(np.percentile(t, 99)), float(max(t))) for name, t in times.items()
    }


def varied_cases(case: dict[str, Any], n: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` bulk cases unlike each other, from ``case``: each its own status and each question that
    applies put with the case's own chance (from none to all), answered yes, no, don't know or
    declined. Their posteriors and questions left differ, so the outlooks taken together share
    less than the copies of one case do."""
    from models.questionnaire import load_questionnaire

    q = load_questionnaire()
    rng = np.random.default_rng(seed)
    statuses = [s for s in q.field("migrant_status").levels if s != "unknown"]
    indicators = [f for f in q.all_fields if f.kind == "indicator"]
    out = []
    for _ in range(n):
        status = str(rng.choice(statuses))
        asked = rng.random()
        answers = {
            f.id: str(rng.choice(["yes", "no", "no", "no", "dont_know", "declined"]))
            for f in indicators
            if f.applies(status) and rng.random() < asked
        }
        out.append(
            {
                **case,
                "answers": answers,
                "not_asked_reasons": {},
                "context": {**case["context"], "migrant_status": status},
            }
        )
    return out


def main(registered: Any, case: dict[str, Any]) -> dict[str, float]:
    """Print the table; return microseconds per step."""
    from serving import usecases as service
    from serving.app import create_app
    from serving.auditlog.database import make_engine, run_migrations
    from serving.keys import Principal, create_key
    from serving.parsing import parse_batch, parse_json
    from serving.runtime import LoadedModel
    from serving.schemas import ScreeningRequest
    from serving.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="tarozu-bench-path-"))
    url = f"sqlite:///{work / 'audit.db'}"
    engine = make_engine(url)
    run_migrations(engine)
    key = create_key(engine, role="screener", label="benchmark")["key"]
    bulk_key = create_key(engine, role="data-scientist", label="benchmark")["key"]
    settings = Settings(environment="production", hmac_secret="b" * 48, database_url=url)  # gc frozen, as served
    app = create_app(settings, model_loader=lambda _s: registered)
    body = json.dumps(case).encode()
    driver = _AsgiDriver(app, key)
    bulk_case = {k: v for k, v in case.items() if k not in ("screener_assessment", "case_ref")}
    batch_body = json.dumps({"cases": [bulk_case] * 1000}).encode()
    varied_body = json.dumps({"cases": varied_cases(bulk_case, 1000)}).encode()

    async def end_to_end() -> tuple[float, tuple[float, float], float, float]:
        from serving.routes import screenings

        async with app.router.lifespan_context(app):
            health, _ = await driver.cpu_per_request("/health", n=4000)
            screening = await driver.cpu_per_request("/v1/screenings", "POST", body, n=1600)
            # The same request with scoring, explaining and logging replaced by a fixed reply:
            # what the HTTP framework, authentication and validation cost on their own.
            real = screenings.screen_one

            async def fixed_reply(*_args: Any, **_kwargs: Any) -> bytes:
                return b"{}"

            screenings.screen_one = fixed_reply  # type: ignore[assignment]
            try:
                floor, _ = await driver.cpu_per_request("/v1/screenings", "POST", body, n=1600)
            finally:
                screenings.screen_one = real
            bulk = _AsgiDriver(app, bulk_key)
            batch_wall = await bulk.wall_per_request("/v1/screenings:batch", body=batch_body, n=5)
            varied_wall = await bulk.wall_per_request("/v1/screenings:batch", body=varied_body, n=5)
            invocations_wall = await bulk.wall_per_request("/invocations", body=invocations_body, n=5)
        return health, screening, floor, (batch_wall, varied_wall, invocations_wall)

    varied = parse_batch(varied_body, "application/json", max_cases=10_000)
    invocations_body = json.dumps(
        {"dataframe_records": [{**a, **c, **u} for a, c, u in map(service._values, varied)]}
    ).encode()
    health, (screening, writer), floor, (batch_wall, varied_wall, invocations_wall) = asyncio.run(end_to_end())

    loaded = LoadedModel.prepare(registered)
    scorer = loaded.scorer
    parsed = parse_json(body, ScreeningRequest, "application/json")
    values = service._values(parsed)
    interview = service._interview(parsed)
    merged = {**values[0], **values[1], **values[2]}
    codes = scorer.encode(merged)
    assessment = scorer.assess(codes, interview)
    services = type("Services", (), {"hmac_key": b"b" * 48})()
    principal = Principal(key_id="bench", role="screener")

    def audit_row(case: Any, assessed: Any) -> dict[str, Any]:
        result = service._logged_result(case, assessed)
        return service._case_row(
            case, values, services=services, loaded=loaded, principal=principal, source="api", result=result
        )

    row = audit_row(parsed, assessment)
    steps = {
        "validate request (pydantic)": _per_call(
            lambda: parse_json(body, ScreeningRequest, "application/json"), number=2000
        ),
        "encode answers": _per_call(lambda: scorer.encode(merged), number=2000),
        "assess (2 outcomes x ensemble, outlook)": _per_call(lambda: scorer.assess(codes, interview), number=500),
        "render explained response (compact)": _per_call(
            lambda: scorer.render(assessment, lang="en", explain="compact"), number=2000
        ),
        "  the same, full (?explain=full)": _per_call(lambda: scorer.render(assessment, lang="en"), number=2000),
        "build audit row": _per_call(lambda: audit_row(parsed, assessment), number=2000),
        "append to the audit log (8 rows a commit; in the writer's process)": _writer_cpu_per_row(
            engine, row, per_commit=8, commits=100
        ),
    }

    def one_screening() -> None:  # the steps of one screening in the API process, in order
        case = parse_json(body, ScreeningRequest, "application/json")
        assessed = scorer.assess(scorer.encode(merged), interview)
        scorer.render(assessed, lang="en", explain="compact")
        audit_row(case, assessed)

    # Idle, this machine's cores come back slower: caches are cold and (on a virtual machine) the host
    # has run something else. The API process idles while the audit writer's commit is on the disk.
    busy = _cpu_after(one_screening, pause=0.0, number=600)
    woken = _cpu_after(one_screening, pause=IDLE_S, number=600)

    cases = parse_batch(batch_body, "application/json", max_cases=10_000)
    batch_codes = scorer.encode_many([{**a, **c, **u} for a, c, u in map(service._values, cases)])
    batch_assessments = service._score_batch(cases, loaded=loaded)
    batch = {
        "validate 1,000 cases": _per_call(
            lambda: parse_batch(batch_body, "application/json", max_cases=10_000), number=1
        ),
        "encode, assess": _per_call(lambda: service._score_batch(cases, loaded=loaded), number=1),
        "  of which the settled checks and next questions, taken together (with the scores they start from)": (
            _per_call(lambda: scorer.outlooks(batch_codes), number=1)
        ),
        "render 1,000 explained results (compact)": _per_call(
            lambda: [scorer.render(a, lang="en", explain="compact") for a in batch_assessments], number=1
        ),
    }
    commit_full = _commit_wall(url, row, synchronous="FULL", per_commit=CONCURRENCY, commits=200)
    commit_off = _commit_wall(url, row, synchronous="OFF", per_commit=CONCURRENCY, commits=200)
    by_ids = _commits_by_id_order(work, row, per_commit=4, commits=ID_ORDER_COMMITS)
    engine.dispose()

    console = Console()
    table = Table(title=f"Where a screening's CPU goes (in-process ASGI, {CONCURRENCY} in flight, best of 5)")
    table.add_column("step")
    table.add_column("us per case", justify="right")
    table.add_column("share of POST /v1/screenings", justify="right")
    table.add_row("GET /health, end to end", f"{health * 1e6:.0f}", "")
    table.add_row("POST /v1/screenings, end to end: the API process", f"{screening * 1e6:.0f}", "100%")
    table.add_row("  and beside it, the audit writer's process (its own core)", f"{writer * 1e6:.0f}", "")
    table.add_row(
        "  same route, fixed reply (framework, auth, validation)", f"{floor * 1e6:.0f}", f"{floor / screening:.0%}"
    )
    for name, seconds in steps.items():
        table.add_row(f"  {name}", f"{seconds * 1e6:.0f}", f"{seconds / screening:.0%}")
    counted = [v for k, v in steps.items() if not k.startswith(("validate", "  ", "append"))]
    rest = screening - floor - sum(counted)
    table.add_row(
        "  the rest: the steps' extra cost in a request (colder caches), handing rows over, the event loop",
        f"{rest * 1e6:.0f}",
        f"{rest / screening:.0%}",
    )
    table.add_row("budget: half of /health's requests per second", f"{2 * health * 1e6:.0f}", "")
    console.print(table)
    console.print(
        f"the steps of one screening, one after another: {busy * 1e6:.0f} us of CPU (median of 600); the same "
        f"steps {IDLE_S * 1e3:.0f} ms after the last, the process asleep in between: {woken * 1e6:.0f} us "
        f"({woken / busy:.2f}x). A core that has idled is slower at first (cold caches; on a virtual machine, "
        "the host ran something else): part of the rest above, where the 8 requests in flight wait on each group "
        "commit together and the process sleeps meanwhile. Under wrk the server's API process hardly ever sleeps "
        "(its waits are counted under the serving table): there the rest is uvicorn, the event loop and the "
        "requests' steps interleaved, not idling"
    )
    console.print(
        f"group commit of {CONCURRENCY} screenings (wall, median of 200): {commit_full * 1e6:.0f} us with fsync "
        f"(synchronous=FULL, as served), {commit_off * 1e6:.0f} us without: the fsync is "
        f"{(commit_full - commit_off) / max(commit_full, 1e-9):.0%} of the commit, "
        f"{(commit_full - commit_off) / CONCURRENCY * 1e6:.0f} us of wall time per screening (the writer's "
        "process waits on the disk while the API process goes on: it adds latency, not CPU to the requests)"
    )
    batch_table = Table(title="A batch of 1,000 explained cases, by step (ms, best of 5)")
    batch_table.add_column("step")
    batch_table.add_column("ms", justify="right")
    for name, seconds in batch.items():
        batch_table.add_row(name, f"{seconds * 1e3:.0f}")
    batch_table.add_row("total of the steps", f"{sum(v for k, v in batch.items() if not k.startswith(' ')) * 1e3:.0f}")
    batch_table.add_row("POST /v1/screenings:batch through the app (server time, logged)", f"{batch_wall * 1e3:.0f}")
    batch_table.add_row("  the same, 1,000 varied cases (each its own status and answers)", f"{varied_wall * 1e3:.0f}")
    batch_table.add_row(
        "POST /invocations, the same 1,000 varied cases as flat records (server time, logged)",
        f"{invocations_wall * 1e3:.0f}",
    )
    console.print(batch_table)
    console.print(
        f"commits of 4 screenings, {ID_ORDER_COMMITS:,} into each of two fresh logs, interleaved (wall ms, p50 / p99 "
        f"/ max): time-ordered ids as served {' / '.join(f'{v:.2f}' for v in by_ids['time-ordered'])}, random "
        f"version-4 ids {' / '.join(f'{v:.2f}' for v in by_ids['random'])} (a random id writes a page of the id "
        "index anywhere, and SQLite's checkpoints copy those pages back and fsync them inside a commit)"
    )
    out = {
        "health": health * 1e6,
        "screening": screening * 1e6,
        "writer": writer * 1e6,
        "floor": floor * 1e6,
        "batch_ms": batch_wall * 1e3,
        "batch_varied_ms": varied_wall * 1e3,
        "invocations_varied_ms": invocations_wall * 1e3,
        "commit_fsync_us": commit_full * 1e6,
        "commit_no_fsync_us": commit_off * 1e6,
        "commit_p99_ms_time_ordered_ids": by_ids["time-ordered"][1],
        "commit_p99_ms_random_ids": by_ids["random"][1],
        "steps_busy_us": busy * 1e6,
        "steps_after_idle_us": woken * 1e6,
    }
    out.update({k: v * 1e6 for k, v in steps.items()})
    return out
