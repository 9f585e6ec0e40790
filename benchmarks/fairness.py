"""How often the fairness audit cries wolf, and how often it finds the wolf.

- False alarms: on the generator's ``null`` scenario groups differ in nothing, so any
  miss-rate or false-alarm "disparity" in a report is false. The share of reports (one per
  seed) with at least one is the figure the audit promises to keep at 5% or below.
- Detection power: on ``bias-gender`` women's labour and men's sexual exploitation are
  identified in 30% of cases; the share of seeds whose report names both gaps as
  identification bias, at a few sample sizes.

The audited model scores the answers only (context and audit fields weigh 0), with its
thresholds at 90% sensitivity on a separate sample, as in ``tests/pipeline/fairness``; a model that
used the group fields could differ between groups for real, which is not a false alarm.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.console import Console
from rich.table import Table

NULL_SEEDS = 40
POWER_SEEDS = 20
ROWS = 20_000
POWER_ROWS = (5_000, 20_000)
TARGET_FALSE = 0.05
EXPECTED = {("gender", "woman", "labour"), ("gender", "man", "sexual")}


def false_disparity_rate(*, seeds: int, rows: int) -> dict[str, Any]:
    from pipeline.config import load_config
    from pipeline.data.synthetic import generate
    from pipeline.fairness.audit import DISPARITY, TOO_FEW, AuditSettings, audit_model
    from tests.support.fairness import tuned_model

    settings = AuditSettings.from_config(load_config(), n_boot=0)
    model = tuned_model(generate(rows=rows, seed=10_000, scenario="null"))
    reports = comparisons = false = 0
    for seed in range(seeds):
        audit = audit_model(model=model, frame=generate(rows=rows, seed=seed, scenario="null"), settings=settings)
        decided = [c for c in audit.error_comparisons if c.verdict != TOO_FEW]
        comparisons += len(decided)
        hits = sum(c.verdict == DISPARITY for c in decided)
        false += hits
        reports += hits > 0
    return {"reports": reports, "seeds": seeds, "comparisons": comparisons, "false_disparities": false}


def detection_power(*, seeds: int, rows: int) -> dict[str, Any]:
    from pipeline.config import load_config
    from pipeline.data.synthetic import generate
    from pipeline.fairness.audit import AuditSettings, audit_model
    from tests.support.fairness import tuned_model

    settings = AuditSettings.from_config(load_config(), n_boot=0)
    model = tuned_model(generate(rows=rows, seed=10_000, scenario="bias-gender"))
    found = 0
    for seed in range(seeds):
        frame = generate(rows=rows, seed=seed, scenario="bias-gender")
        audit = audit_model(model=model, frame=frame, settings=settings)
        flags = {(f.attribute, f.group, f.outcome) for f in audit.answer().under_identified}
        found += EXPECTED.issubset(flags)
    return {"found": found, "seeds": seeds}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fairness")
    parser.add_argument("--null-seeds", type=int, default=NULL_SEEDS)
    parser.add_argument("--power-seeds", type=int, default=POWER_SEEDS)
    args = parser.parse_args(argv or [])
    console = Console(width=150)
    start = time.perf_counter()
    null = false_disparity_rate(seeds=args.null_seeds, rows=ROWS)
    power = {rows: detection_power(seeds=args.power_seeds, rows=rows) for rows in POWER_ROWS}
    table = Table(title="Fairness audit: false disparities on the null scenario, power on bias-gender")
    for column in ("measure", "rows per report", "result", "rate", "goal"):
        table.add_column(column)
    rate = null["reports"] / null["seeds"]
    table.add_row(
        "reports with any error-rate disparity (null)",
        f"{ROWS:,}",
        f"{null['reports']} of {null['seeds']} ({null['false_disparities']} of {null['comparisons']:,} comparisons)",
        f"{rate:.3f}",
        f"<= {TARGET_FALSE} ({'yes' if rate <= TARGET_FALSE else 'NO'})",
    )
    for rows, p in power.items():
        table.add_row(
            "injected identification gap named (bias-gender: woman labour, man sexual)",
            f"{rows:,}",
            f"{p['found']} of {p['seeds']}",
            f"{p['found'] / p['seeds']:.3f}",
            "",
        )
    console.print(table)
    console.print(f"fairness benchmark took {time.perf_counter() - start:.0f}s")
    return {"null": null, "power": power}


if __name__ == "__main__":
    main()
