"""Run every benchmark: ``python -m benchmarks [--only NAME ...]``."""

from __future__ import annotations

import argparse

from benchmarks import training


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--only", nargs="*", choices=["training", "api"], help="run only these benchmarks")
    args = parser.parse_args()
    chosen = set(args.only or ["training", "api"])
    result = training.main() if "training" in chosen else {}
    if "api" in chosen:
        from benchmarks import api

        api.main(work=result.get("work"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
