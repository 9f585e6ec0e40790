"""``tarozu train --research``: what a source's other columns know that the questionnaire does not.

Analysis only. Beside the usual run (which it never registers), a research run fits plain
one-hot logistic regressions, 5-fold cross-validated, on the same rows:

- ``questionnaire``: the questionnaire's fields as the loader mapped them;
- ``all_columns``: every column of the source except protected attributes
  (:data:`pipeline.data.ctdc.PROTECTED_SOURCE_COLUMNS`, the audit fields) and the outcome;
- ``questionnaire + <column>``: for each source column the questionnaire leaves out.

Nothing here is a screening model: it is logged to MLflow with ``tarozu.research=true`` and
``tarozu.screening_model=false`` and never registered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from models.questionnaire import load_questionnaire
from pipeline import registration
from pipeline.config import TrainConfig
from pipeline.data import formats
from pipeline.data.columns import LABEL_COLUMNS, LABELS, OPTIONAL_COLUMNS
from pipeline.data.ctdc import OUTCOME_SOURCE_COLUMNS, PROTECTED_SOURCE_COLUMNS
from pipeline.data.schema import Dataset, load_dataset
from serving import registry

FOLDS = 5


def plain_auroc(x: pd.DataFrame, y: np.ndarray, *, seed: int = 0, folds: int = FOLDS) -> float:
    """5-fold AUROC of a one-hot (every value its own level) L2 logistic regression."""
    model = make_pipeline(
        OneHotEncoder(handle_unknown="ignore"),
        LogisticRegression(max_iter=3000),
    )
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return float(cross_val_score(model, x.astype("str"), y, cv=cv, scoring="roc_auc").mean())


def research_columns(dataset: Dataset, raw: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(source columns fitted on, source columns left out as protected or part of the outcome)."""
    q = load_questionnaire()
    if dataset.source == "ctdc":
        left_out = sorted(c for c in raw.columns if c in PROTECTED_SOURCE_COLUMNS | OUTCOME_SOURCE_COLUMNS)
        return [c for c in raw.columns if c not in left_out], left_out
    never = {*q.monitoring_ids, *LABEL_COLUMNS, *OPTIONAL_COLUMNS}
    left_out = sorted(c for c in raw.columns if c in never)
    return [c for c in raw.columns if c not in never], left_out


def research(config: TrainConfig) -> dict[str, Any]:
    """The research figures of ``config``'s data file (see the module docstring)."""
    if config.data.source != "file" or config.data.path is None:
        raise ValueError("--research needs --data FILE: it compares a source's own columns with the questionnaire's")
    path = Path(str(config.data.path))
    dataset = load_dataset(path)
    raw = formats.read_table(path.read_bytes(), name=path.name)
    raw.columns = [str(c) for c in raw.columns]
    frame = dataset.frame
    keep = np.ones(len(frame), dtype=bool)
    if dataset.identified_victims_only:
        keep = ((frame["is_labour"] == 1) | (frame["is_sexual"] == 1)).to_numpy()
    outcomes = ("sexual",) if dataset.identified_victims_only else ("labour", "sexual")
    columns, left_out = research_columns(dataset, raw)
    mapped_from = set(raw.columns) - set(dataset.unmapped_columns)
    extra = [c for c in columns if c in dataset.unmapped_columns]
    questionnaire = frame.loc[keep, list(config.feature_fields)].reset_index(drop=True)
    source = raw.loc[keep, columns].reset_index(drop=True)
    results: dict[str, Any] = {
        "rows": int(keep.sum()),
        "columns": columns,
        "left_out": left_out,
        "not_in_questionnaire": extra,
        "mapped_from": sorted(mapped_from & set(columns)),
        "outcomes": {},
    }
    for outcome in outcomes:
        y = frame.loc[keep, LABELS[outcome]].to_numpy()
        entry = {
            "questionnaire": plain_auroc(questionnaire, y),
            "all_columns": plain_auroc(source, y),
            "questionnaire_plus": {c: plain_auroc(pd.concat([questionnaire, source[[c]]], axis=1), y) for c in extra},
        }
        results["outcomes"][outcome] = entry
    return results


def run_research(config: TrainConfig, *, train_run_id: str | None, console: Console) -> dict[str, Any]:
    """Compute, print and log (never register) the research figures."""
    import mlflow

    results = research(config)
    client = registry.client()
    if train_run_id:
        client.set_tag(train_run_id, "tarozu.research", "true")
    experiment_id = registration.ensure_experiment(config.registry.experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name="research") as run:
        mlflow.set_tags(
            {
                "tarozu.research": "true",
                "tarozu.screening_model": "false",
                "tarozu.analysis_only": "true",
                **({"tarozu.train_run_id": train_run_id} if train_run_id else {}),
            }
        )
        mlflow.log_params(
            {
                "research.columns": ",".join(results["columns"])[:500],
                "research.left_out": ",".join(results["left_out"])[:500],
                "research.rows": results["rows"],
                "research.folds": FOLDS,
                "research.model": "one-hot LogisticRegression (L2, C=1)",
            }
        )
        metrics = {}
        for outcome, entry in results["outcomes"].items():
            metrics[f"{outcome}.questionnaire.auroc"] = entry["questionnaire"]
            metrics[f"{outcome}.all_columns.auroc"] = entry["all_columns"]
            for column, value in entry["questionnaire_plus"].items():
                metrics[f"{outcome}.questionnaire_plus.{column}.auroc"] = value
        mlflow.log_metrics(metrics)
        mlflow.log_dict(results, "research.json")
        results["run_id"] = run.info.run_id
    for outcome, entry in results["outcomes"].items():
        table = Table(title=f"Research ({outcome}, {FOLDS}-fold AUROC of a plain one-hot regression; analysis only)")
        table.add_column("columns")
        table.add_column("AUROC", justify="right")
        table.add_row("questionnaire fields (as mapped)", f"{entry['questionnaire']:.3f}")
        for column, value in entry["questionnaire_plus"].items():
            table.add_row(f"  + {column}", f"{value:.3f}")
        table.add_row("all non-protected source columns", f"{entry['all_columns']:.3f}")
        console.print(table)
    console.print(
        f"left out (protected or part of the outcome): {', '.join(results['left_out']) or 'none'}; "
        f"research run {results['run_id'][:8]}, not registered"
    )
    return results
