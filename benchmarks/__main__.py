"""Run every benchmark: ``python -m benchmarks [--only NAME ...]``.

training: generator speed, training time, accuracy against the Bayes-optimal model and the
baselines; interview: partial interviews against the exact posterior, the empty form, and
the adaptive question order against the full questionnaire and fixed short forms (reuses
training's model); ctdc: Tarozu on the real CTDC file beside a plain regression;
fairness: the audit's false disparities on the null scenario and its power on bias-gender;
api: throughput and latency against `mlflow models serve` and the bare /health;
score: `tarozu score` on 1,000,000 rows on one machine, and on local Spark as a ratio;
soak: 10 minutes at concurrency 8; fuzz: 2,000 schemathesis cases per operation;
structure (only when named): which model classes can approach the Bayes-optimal bounds.
"""

from __future__ import annotations

import argparse

BENCHMARKS = ("training", "interview", "ctdc", "fairness", "api", "score", "soak", "fuzz")
EXTRA = ("structure",)  # on request only: several minutes


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument(
        "--only", nargs="*", choices=BENCHMARKS + EXTRA, help="run only these benchmarks (structure only when named)"
    )
    args = parser.parse_args()
    chosen = set(args.only or BENCHMARKS)
    status = 0
    work = None
    if "training" in chosen:
        from benchmarks import training

        work = training.main().get("work")
    if "interview" in chosen:
        from benchmarks import interview

        work = interview.main(work=work)["work"]  # the api benchmark serves the same model
    if "ctdc" in chosen:
        from benchmarks import ctdc

        ctdc.main()
    if "fairness" in chosen:
        from benchmarks import fairness

        fairness.main([])
    if "api" in chosen:
        from benchmarks import api

        api.main(work=work)
    if "score" in chosen:
        from benchmarks import score

        score.main([])
    if "soak" in chosen:
        from benchmarks import soak

        status |= soak.main([])
    if "fuzz" in chosen:
        from benchmarks import fuzz

        status |= fuzz.main([])
    if "structure" in chosen:
        from benchmarks import model_structure

        model_structure.main([])
    return status


if __name__ == "__main__":
    raise SystemExit(main())
