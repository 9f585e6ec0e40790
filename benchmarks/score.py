"""``tarozu score`` at register scale: one machine against the 10 s target and against local Spark.

``python -m benchmarks --only score [--rows N] [--spark-rows M]``. A fresh MLflow registry and
audit database in a scratch directory; the model has the production shape (every questionnaire
field, 20 ensemble members per outcome; tests/support/factories.py). The register is complete
intake forms (every question that applies was put): generated screenings with no question
left unasked, drawn with replacement to ``--rows`` (default 1,000,000) and written as Parquet;
the number of distinct cases among them is printed. Every engine runs the real command end to
end in its own process (start, read, check, score with tier, bands and top reasons, write,
audit record), timed from outside:

- one machine on ``--rows``: seconds, rows/s and the ratio to the 10 s target for 1,000,000, and the
  command's peak memory (it reads a register a batch at a time: the peak does not grow with the rows);
- local Spark on the first ``--spark-rows`` (default 100,000) of the same register, beside one
  machine on the same file: the ratio of the two; and the same through Spark Connect (a local
  server that PySpark starts for ``SPARK_REMOTE``, and a client of it);
- one machine on generated screenings as generated, ``--partial-rows`` (default 100,000 and
  1,000,000; the generator's mix: about 55% partial interviews, whose settled check and next
  questions come from the model's common draws, outlook rule 2 of ``models.interview``): rows/s
  and the time at 1,000,000 rows against the 10 s target;
- the first of those again in one process (``--workers 1``): the ratio of the default (one worker
  process per usable CPU) to it.

These one-machine runs (not the 100,000 rows beside Spark) are made in ``--rounds`` interleaved rounds
(default 2), and each prints its best round, then every round's time: this machine's speed swings by
up to twice within minutes (docs/performance.md), and the best round, as ``--only api``'s, is the code's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_SECONDS = 10.0
COMMAND = "import sys; from pipeline.cli import main; sys.exit(main(sys.argv[1:]))"
"""The tarozu command in a fresh interpreter (its start and imports are part of the time)."""
TARGET_ROWS = 1_000_000
POOL_ROWS = 400_000
"""Generated screenings the register is drawn from (about 45% are complete forms)."""
PARTIAL_ROWS = (100_000, 1_000_000)
ROUNDS = 2


def _register(root: Path) -> None:
    import mlflow

    from pipeline import registration
    from serving import registry
    from tests.support.factories import make_model

    experiment = registration.ensure_experiment("bench-score")
    with mlflow.start_run(experiment_id=experiment):
        version, _ = registration.log_screening_model(make_model(0), registered_name=registry.MODEL_NAME)
    assert version is not None
    registration.set_alias(name=registry.MODEL_NAME, alias=registry.CHAMPION, version=version)


def _registers(root: Path, rows: int, spark_rows: int) -> tuple[Path, Path, int]:
    from models.bulk import encode_frame
    from models.engine import ScreeningEngine
    from models.questionnaire import load_questionnaire
    from pipeline.data.formats import to_file_frame
    from pipeline.data.synthetic import generate
    from tests.support.factories import make_model

    frame = generate(rows=POOL_ROWS, seed=3)
    q = load_questionnaire()
    engine = ScreeningEngine(make_model(0))
    codes = encode_frame(engine, frame)
    applicable = engine._applicable[codes[:, engine._status]]
    unasked = applicable & (codes[:, engine._indicators] == engine._not_asked)
    complete = frame[~unasked.any(axis=1)]  # every question that applies to the person was put
    labels = ["is_labour", "is_sexual"]
    fields = [f.id for f in q.all_fields]
    pick = np.random.default_rng(0).integers(0, len(complete), size=rows)
    register = to_file_frame(complete[fields + labels].iloc[pick].reset_index(drop=True))
    distinct = len(np.unique(pick))
    full = root / "register.parquet"
    register.to_parquet(full, index=False)
    sample = root / "sample.parquet"
    register.head(spark_rows).to_parquet(sample, index=False)
    return full, sample, distinct


def _mixes(root: Path, sizes: list[int]) -> list[tuple[Path, int, float, int]]:
    """Generated screenings as generated, the first ``n`` rows for each ``n``: (file, rows,
    share of partial interviews, distinct partial interviews)."""
    from models.bulk import encode_frame
    from models.engine import ScreeningEngine
    from models.questionnaire import load_questionnaire
    from pipeline.data.formats import to_file_frame
    from pipeline.data.synthetic import generate
    from tests.support.factories import make_model

    if not sizes:
        return []
    frame = generate(rows=max(sizes), seed=4)
    engine = ScreeningEngine(make_model(0))
    fields = [f.id for f in load_questionnaire().all_fields]
    out = []
    for n in sizes:
        head = frame.head(n)
        codes = encode_frame(engine, head)
        applicable = engine._applicable[codes[:, engine._status]]
        partial = (applicable & (codes[:, engine._indicators] == engine._not_asked)).any(axis=1)
        path = root / f"mixed-{n}.parquet"
        to_file_frame(head[[*fields, "is_labour", "is_sexual"]].reset_index(drop=True)).to_parquet(path, index=False)
        rows = np.ascontiguousarray(codes[partial])
        distinct = len(np.unique(rows.view(np.dtype((np.void, rows.itemsize * rows.shape[1])))))
        out.append((path, n, float(partial.mean()), distinct))
    return out


PEAK = (
    "import os, subprocess, sys; process = subprocess.Popen(sys.argv[2:]); "
    "_, status, usage = os.wait4(process.pid, 0); "
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss)); sys.exit(os.waitstatus_to_exitcode(status))"
)
"""Runs a command and writes its peak memory (kB) to a file. The command is started from this small
process, not from the benchmark's: a process forked from a large one counts the large one's pages as
its own until it execs, and the peak would be the benchmark's. Its own start (about 20 ms) is in the
command's time."""


def _score(
    root: Path, source: Path, name: str, *extra: str, env: dict[str, str] | None = None, keep: bool = True
) -> tuple[float, float]:
    """The wall time of one ``tarozu score`` command, and its peak memory in GB (the largest resident set of
    the command's process and of those it waited for: its worker processes are the children of its
    forkserver, which it waits for). Its own output (progress bars; Spark's and the JVM's log, dozens of
    lines a run) goes to a log file beside it, shown only if the command fails; the scores it wrote are
    removed unless ``keep``."""
    out = root / name
    command = [sys.executable, "-c", COMMAND, "score", "--input", str(source), "--output", str(out)]
    print(f"tarozu score -> {name} {' '.join(extra)}".rstrip(), file=sys.stderr, flush=True)
    log, peak = root / f"{name}.log", root / f"{name}.peak"
    start = time.perf_counter()
    with log.open("wb") as err:
        done = subprocess.run(
            [sys.executable, "-c", PEAK, str(peak), *command, "--operator", "bench", *extra],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **(env or {})},
        )
    seconds = time.perf_counter() - start
    if done.returncode:
        tail = log.read_text(encoding="utf-8", errors="replace")[-4000:]
        raise RuntimeError(f"tarozu score -> {name} failed (exit {done.returncode}); the end of its output:\n{tail}")
    if not keep:
        out.unlink()
    return seconds, int(peak.read_text()) / 2**20  # kilobytes on Linux


def main(argv: list[str] | None = None) -> dict[str, float]:
    from pipeline.score import usable_cpus

    parser = argparse.ArgumentParser(prog="python -m benchmarks.score")
    parser.add_argument("--rows", type=int, default=TARGET_ROWS)
    parser.add_argument("--spark-rows", type=int, default=100_000)
    parser.add_argument("--spark-master", default="local[*]")
    parser.add_argument(
        "--partial-rows",
        type=int,
        nargs="*",
        default=list(PARTIAL_ROWS),
        help="rows of generated screenings as generated (partial interviews among them)",
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds of the one-machine runs")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, not {args.rounds}")
    root = Path(tempfile.mkdtemp(prefix="tarozu-bench-score-"))
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "TAROZU_DATABASE_URL")}
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    os.environ["TAROZU_DATABASE_URL"] = f"sqlite:///{root / 'audit.db'}"
    cwd = Path.cwd()
    os.chdir(root)
    try:
        _register(root)
        spark_rows = min(args.spark_rows, args.rows)
        full, sample, distinct = _registers(root, args.rows, spark_rows)
        mixes = _mixes(root, args.partial_rows)
        # The one-machine runs in interleaved rounds: the complete forms, each mix, then the first mix in one
        # process; each run's best round (by time) and every round's time.
        runs: list[tuple[Path, tuple[str, ...]]] = [(full, ()), *((path, ()) for path, *_ in mixes)]
        if mixes:
            runs.append((mixes[0][0], ("--workers", "1")))
        rounds = [
            [
                _score(root, path, f"round-{r}-{k}-{path.name}", *extra, keep=False)
                for k, (path, extra) in enumerate(runs)
            ]
            for r in range(args.rounds)
        ]
        best = [min(each) for each in zip(*rounds, strict=True)]
        seconds_of = [" ".join(f"{seconds:.1f}" for seconds, _ in each) for each in zip(*rounds, strict=True)]
        (local, local_peak), scored = best[0], best[1 : 1 + len(mixes)]
        one_process = best[-1][0] if mixes else None
        small, _ = _score(root, sample, "sample-local.parquet")
        spark, _ = _score(root, sample, "spark.parquet", "--engine", "spark", "--spark-master", args.spark_master)
        # the same through Spark Connect: a local server that PySpark starts for SPARK_REMOTE, and a client of it
        env = {"SPARK_REMOTE": args.spark_master}
        connect, _ = _score(root, sample, "connect.parquet", "--engine", "spark", env=env)
        partial, peaks = [seconds for seconds, _ in scored], [peak for _, peak in scored]
        rate = args.rows / local
        at_target = TARGET_ROWS / rate
        verdict = "meets" if at_target < TARGET_SECONDS else "misses"
        print(f"\ntarozu score, complete forms ({distinct:,} distinct generated cases), Parquet, whole command:")
        print(
            f"  one machine   {args.rows:>9,} rows {local:7.1f} s {rate:10,.0f} rows/s; 1,000,000 rows in "
            f"{at_target:.1f} s = {at_target / TARGET_SECONDS:.2f}x the 10 s target ({verdict} it); "
            f"peak memory {local_peak:.2f} GB (rounds: {seconds_of[0]} s)"
        )
        print(f"  one machine   {spark_rows:>9,} rows {small:7.1f} s {spark_rows / small:10,.0f} rows/s")
        print(
            f"  Spark {args.spark_master:<7} {spark_rows:>9,} rows {spark:7.1f} s {spark_rows / spark:10,.0f} rows/s; "
            f"{spark / small:.1f}x the one-machine time on the same rows"
        )
        print(
            f"  Spark Connect {args.spark_master:<7} {spark_rows:>9,} rows {connect:7.1f} s "
            f"{spark_rows / connect:10,.0f} rows/s; {connect / small:.1f}x the one-machine time on the same rows"
        )
        print("tarozu score, generated screenings as generated (partial interviews among them), one machine:")
        for (_, n, share, cases), seconds, peak, each in zip(
            mixes, partial, peaks, seconds_of[1 : 1 + len(mixes)], strict=True
        ):
            at = TARGET_ROWS * seconds / n
            print(
                f"  {n:>9,} rows ({share:.0%} partial, {cases:,} distinct partial cases) {seconds:7.1f} s "
                f"{n / seconds:10,.0f} rows/s; 1,000,000 rows in {at:.1f} s = {at / TARGET_SECONDS:.2f}x "
                f"the 10 s target ({'meets' if at < TARGET_SECONDS else 'misses'} it); peak memory {peak:.2f} GB "
                f"(rounds: {each} s)"
            )
        if one_process is not None:
            n, seconds = mixes[0][1], partial[0]
            print(
                f"  {n:>9,} rows in one process (--workers 1) {one_process:7.1f} s {n / one_process:10,.0f} rows/s; "
                f"the default ({usable_cpus()} worker processes, one per usable CPU) "
                f"{one_process / seconds:.2f}x as fast (rounds: {seconds_of[-1]} s)"
            )
        return {
            "local_s": local,
            "local_peak_gb": local_peak,
            "rows_per_s": rate,
            "target_ratio": at_target / TARGET_SECONDS,
            "spark_s": spark,
            "spark_ratio": spark / small,
            "connect_ratio": connect / small,
            **{f"partial_{n}_rows_s": n / seconds for (_, n, *_), seconds in zip(mixes, partial, strict=True)},
            **{f"partial_{n}_peak_gb": peak for (_, n, *_), peak in zip(mixes, peaks, strict=True)},
            **({"workers_speedup": one_process / partial[0]} if one_process is not None else {}),
        }
    finally:
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
