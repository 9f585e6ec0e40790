"""How close can each model class come to the Bayes-optimal bounds? (``--only structure``)

Not part of the default ``make bench`` (it takes several minutes). It separates the three
reasons a model falls short of the generator's Bayes-optimal log-loss:

- information: the bound given only the model's inputs (no protected attributes);
- estimation: the same model class trained on the pipeline's training split and on
  ``--rows`` fresh rows (a different seed, so no test row is seen);
- structure: an additive binary logistic model per outcome (the production model class)
  against a multinomial logistic model over the four observed label combinations (none,
  labour, sexual, both; P(labour) = P(labour only) + P(both)), which matches the generator's
  four-state truth but is not additive in each outcome's log-odds.

Both are L2-regularised on the one-hot questionnaire and context, Platt-scaled on the
pipeline's calibration split and scored on its test split, like ``tarozu train``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

OUTCOMES = {"labour": "is_labour", "sexual": "is_sexual"}
CLASSES = {"labour": [1, 3], "sexual": [2, 3]}  # columns of the four-class model: 1 labour, 2 sexual, 3 both


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    from models.calibration import fit_platt
    from models.encoding import FieldEncoder
    from models.logodds import expit
    from pipeline.config import load_config
    from pipeline.data.synthetic import generate
    from pipeline.metrics import auroc, mean_log_loss
    from pipeline.train import bayes_given_inputs, split_data

    parser = argparse.ArgumentParser(prog="python -m benchmarks --only structure")
    parser.add_argument("--rows", type=int, default=1_000_000, help="fresh training rows for the second fit")
    args = parser.parse_args(argv)
    console = Console(width=150)
    config = load_config()
    frame = generate(rows=config.data.rows, seed=config.data.seed, scenario=config.data.scenario)
    splits = split_data(frame, calibration=config.split.calibration, test=config.split.test, seed=config.split.seed)
    test, cal = splits.test, splits.calibration
    restricted = bayes_given_inputs(test, config)
    assert restricted is not None, "the default config trains on generated data"
    encoder = FieldEncoder(config.feature_fields)
    onehot = OneHotEncoder(categories=[np.arange(n) for n in encoder.n_levels], handle_unknown="ignore")
    onehot.fit(encoder.transform(splits.train).to_numpy())

    def design(rows: Any) -> Any:
        return onehot.transform(encoder.transform(rows).to_numpy()).tocsr()

    trainings = {f"train split, {len(splits.train):,}": splits.train}
    if args.rows:
        trainings[f"{args.rows:,} fresh rows"] = generate(rows=args.rows, seed=config.data.seed + 7)
    x_cal, x_test = design(cal), design(test)
    results: dict[str, Any] = {}
    warnings.simplefilter("ignore", ConvergenceWarning)
    for data_name, train in trainings.items():
        x_train = design(train)
        start = time.perf_counter()
        for outcome, label in OUTCOMES.items():
            binary = LogisticRegression(C=0.1, max_iter=3000, tol=1e-6).fit(x_train, train[label].to_numpy())
            platt = fit_platt(binary.decision_function(x_cal), cal[label].to_numpy())
            p = expit(platt(binary.decision_function(x_test)))
            results[("additive binary LR", data_name, outcome)] = p
        four = train["is_labour"].to_numpy() + 2 * train["is_sexual"].to_numpy()
        multi = LogisticRegression(C=1.0, max_iter=3000, tol=1e-6).fit(x_train, four)
        p_cal, p_test = multi.predict_proba(x_cal), multi.predict_proba(x_test)
        for outcome, label in OUTCOMES.items():
            platt = fit_platt(_logit(p_cal[:, CLASSES[outcome]].sum(axis=1)), cal[label].to_numpy())
            p = expit(platt(_logit(p_test[:, CLASSES[outcome]].sum(axis=1))))
            results[("4-state multinomial LR (not additive)", data_name, outcome)] = p
        console.print(f"structure: fitted on {data_name} in {time.perf_counter() - start:.0f} s")

    table = Table(
        title="Test log-loss above the Bayes-optimal bound (all fields) and the bound given the model's inputs"
    )
    for column in ("outcome", "model", "trained on", "log-loss", "vs Bayes", "vs Bayes | inputs", "AUROC"):
        table.add_column(column, no_wrap=True)
    out: dict[str, Any] = {}
    for outcome, label in OUTCOMES.items():
        y = test[label].to_numpy()
        bayes = mean_log_loss(y, test[f"p_{outcome}"].to_numpy())
        given = mean_log_loss(y, restricted[f"p_{outcome}"].to_numpy())
        table.add_row(outcome, "bayes | inputs", "", f"{given:.4f}", f"{given / bayes - 1:+.1%}", "", "")
        for (model, data_name, o), p in results.items():
            if o != outcome:
                continue
            loss = mean_log_loss(y, p)
            out[f"{outcome}/{model}/{data_name}"] = loss / bayes - 1
            table.add_row(
                outcome,
                model,
                data_name,
                f"{loss:.4f}",
                f"{loss / bayes - 1:+.1%}",
                f"{loss / given - 1:+.1%}",
                f"{auroc(y, p):.4f}",
            )
    console.print(table)
    return out
