"""``tarozu score`` at register scale: one machine against local Spark, side by side in one run.

``python -m benchmarks --only score [--rows N]``. A fresh MLflow registry and audit database in
a scratch directory; the model has the production shape (every questionnaire field, 20
ensemble members per outcome; tests/serving/factories.py). The register is complete intake
forms (every question put): generated screenings with no question left unasked, drawn with
replacement to ``--rows`` (default 1,000,000) and written as Parquet. Both engines run the
real command end to end (start, read, check, score with tier, bands and top reasons, write,
audit record); the target is under 10 s on one machine. A case with questions not asked also
needs its outlook (a seeded sample of the unasked answers, about 1.5 ms a distinct case): the
rate on the generator's mix of partial interviews is printed beside.
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


def _register(root: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "serving"))
    import mlflow
    from factories import make_model

    from pipeline import registration
    from serving import registry

    experiment = registration.ensure_experiment("bench-score")
    with mlflow.start_run(experiment_id=experiment):
        version, _ = registration.log_screening_model(make_model(0), registered_name=registry.MODEL_NAME)
    assert version is not None
    registration.set_alias(name=registry.MODEL_NAME, alias=registry.CHAMPION, version=version)


def _registers(root: Path, rows: int) -> tuple[Path, Path, int]:
    from models.questionnaire import load_questionnaire
    from pipeline.data.formats import to_file_frame
    from pipeline.data.synthetic import generate

    frame = generate(rows=40_000, seed=3)
    q = load_questionnaire()
    from factories import make_model

    from models.bulk import encode_frame
    from models.engine import ScreeningEngine

    engine = ScreeningEngine(make_model(0))
    codes = encode_frame(engine, frame)
    applicable = engine._applicable[codes[:, engine._status]]
    unasked = applicable & (codes[:, engine._indicators] == engine._not_asked)
    complete = frame[~unasked.any(axis=1)]  # every question that applies to the person was put
    labels = ["is_labour", "is_sexual"]
    fields = [f.id for f in q.all_fields]
    pick = np.random.default_rng(0).integers(0, len(complete), size=rows)
    register = to_file_frame(complete[fields + labels].iloc[pick].reset_index(drop=True))
    full = root / "register.parquet"
    register.to_parquet(full, index=False)
    mixed = root / "mixed.parquet"
    to_file_frame(frame[fields + labels].head(5_000)).to_parquet(mixed, index=False)
    return full, mixed, len(complete)


def _score(root: Path, source: Path, name: str, *extra: str) -> float:
    out = root / name
    command = [sys.executable, "-m", "pipeline.cli", "score", "--input", str(source), "--output", str(out)]
    start = time.perf_counter()
    subprocess.run([*command, "--operator", "bench", *extra], check=True, cwd=root, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.score")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--spark-master", default="local[*]")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="tarozu-bench-score-"))
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "TAROZU_DATABASE_URL")}
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    os.environ["TAROZU_DATABASE_URL"] = f"sqlite:///{root / 'audit.db'}"
    cwd = Path.cwd()
    os.chdir(root)
    try:
        _register(root)
        full, mixed, distinct = _registers(root, args.rows)
        local = _score(root, full, "local.parquet")
        spark = _score(root, full, "spark.parquet", "--engine", "spark", "--spark-master", args.spark_master)
        partial = _score(root, mixed, "mixed-scores.parquet")
        print(f"\ntarozu score, {args.rows:,} complete forms ({distinct:,} distinct generated cases), Parquet:")
        verdict = "meets" if local < TARGET_SECONDS else "misses"
        print(f"  one machine  {local:7.1f} s  {args.rows / local:10,.0f} rows/s  ({verdict} the 10 s target)")
        print(f"  Spark {args.spark_master:<7}{spark:7.1f} s  {args.rows / spark:10,.0f} rows/s  {spark / local:.1f}x")
        print(f"  partial interviews (generator mix, 5,000 rows, one machine): {5_000 / partial:,.0f} rows/s")
        return {"local_s": local, "spark_s": spark, "ratio": spark / local, "partial_rows_s": 5_000 / partial}
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
