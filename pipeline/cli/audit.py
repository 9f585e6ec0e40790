"""``tarozu audit``: the fairness audit of a registered model, or (``--from-log``) the field review
of what was screened, from the serving audit log (:mod:`pipeline.fairness.field`).

Defaults the training config holds (model name, synthetic rows and seed: the promotion's
evaluation data; bootstrap resamples) and how groups are compared (its ``fairness`` section) come
from ``--config`` (default: the shipped config).
Reports go to ``--out`` (default ``reports/audit-<timestamp>/``). A model's report also
replaces the ``fairness/`` artifact of its MLflow run, so it travels with the model: the API
serves it at ``GET /v1/audit/report`` once the model is (re)loaded (``POST /v1/admin/reload``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from datetime import datetime
from pathlib import Path

from pipeline.config import load_config
from pipeline.data.schema import load_dataset
from pipeline.data.synthetic import generate
from pipeline.fairness.audit import AuditSettings, audit_model
from pipeline.fairness.field import FOLLOW_UP_RATE, log_rows, review_screenings
from pipeline.fairness.report import write_report
from serving import registry

ARTIFACT_PATH = "fairness"
SERVED_AFTER_RELOAD = (
    "the API serves this report for {name} version {version} (GET /v1/audit/report) once a service "
    "serving that version loads it again: POST /v1/admin/reload"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="training config whose defaults apply (default: the shipped one)")
    parser.add_argument(
        "--model",
        help="models:/<name>@<alias> or models:/<name>/<version> (default: the config's model name @champion)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", help="data file with labels (default: fresh synthetic data)")
    source.add_argument("--scenario", help="synthetic scenario when --data is not given (default: the config's)")
    source.add_argument(
        "--from-log", action="store_true", help="field review of what was screened, from the serving audit log"
    )
    parser.add_argument("--rows", type=int, help="synthetic rows (default: the config's promotion.evaluation_rows)")
    parser.add_argument("--seed", type=int, help="synthetic seed (default: the config's promotion.evaluation_seed)")
    parser.add_argument("--from", dest="start", type=datetime.fromisoformat, help="log: first date")
    parser.add_argument("--to", dest="end", type=datetime.fromisoformat, help="log: end date (exclusive)")
    parser.add_argument("--database-url", help="audit-log database (default: the serving settings)")
    parser.add_argument("--n-boot", type=int, help="bootstrap resamples (default: the config's evaluation.bootstrap)")
    parser.add_argument(
        "--follow-up-rate",
        type=float,
        default=FOLLOW_UP_RATE,
        help="log: rate of the random follow-up sample of unreferred people (docs/responsible-use.md)",
    )
    parser.add_argument("--out", help="output directory (default reports/audit-<timestamp>/)")


def run(args: argparse.Namespace) -> int:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = Path(args.out or Path("reports") / f"audit-{stamp}")
    if args.from_log:
        review = review_screenings(
            rows=list(log_rows(database_url=args.database_url, start=args.start, end=args.end)),
            follow_up_rate=args.follow_up_rate,
        )
        html_path, json_path = write_report(review, out)
        print(f"wrote the field review {html_path} and {json_path}")
        return 0

    config = load_config(args.config)
    name, alias, version = registry.parse_model_uri(
        args.model or f"models:/{config.registry.model_name}@{registry.CHAMPION}"
    )
    if alias is not None:
        loaded = registry.load_registered(name=name, alias=alias)
    else:
        loaded = registry.load_version(name=name, version=str(version))
    rows = config.promotion.evaluation_rows if args.rows is None else args.rows
    seed = config.promotion.evaluation_seed if args.seed is None else args.seed
    scenario = args.scenario or config.data.scenario
    frame = load_dataset(args.data).frame if args.data else generate(rows=rows, seed=seed, scenario=scenario)
    data = args.data or f"synthetic scenario {scenario!r}, {rows} rows, seed {seed}"
    settings = AuditSettings.from_config(config, n_boot=args.n_boot)
    model_audit = audit_model(model=loaded.model, frame=frame, settings=settings, data=data)
    model_info = {"name": loaded.name, "version": loaded.version, "alias": loaded.alias, "run_id": loaded.run_id}
    model_audit = dataclasses.replace(model_audit, model={**model_audit.model, **model_info})
    html_path, json_path = write_report(model_audit, out)
    registry.client().log_artifacts(loaded.run_id, str(out), artifact_path=ARTIFACT_PATH)
    print(f"wrote {html_path}, {json_path} and figures; logged to run {loaded.run_id} under {ARTIFACT_PATH}/")
    print(SERVED_AFTER_RELOAD.format(name=loaded.name, version=loaded.version))
    return 0
