"""``tarozu train``: data in, a registered, documented, auditable screening model out.

Stages (each a plain function; this module only puts them in order and does I/O):
load -> split -> fit -> calibrate (in fit) -> evaluate -> model card -> log and register.

:func:`fit_screening_model` is the fit alone (split, fit, ensemble, compile, referral tiers):
no MLflow, no console; what it does is shown through the ``stage`` it is given.
:func:`evaluate_fit` and :func:`screening_card` evaluate and document it, :func:`log_run`
logs and registers, and :func:`train` (``tarozu train``) composes them under a progress display.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from models.encoding import FieldEncoder
from models.questionnaire import STATUS_FIELD, load_questionnaire
from models.scorecard import make_scorecard
from models.screening import ScreeningModel
from pipeline import registration
from pipeline.config import InterviewsConfig, TrainConfig
from pipeline.data.columns import GROUND_TRUTH_P, LABELS
from pipeline.data.schema import Dataset, check_stage_frame, load_dataset, validate_frame, write_frame
from pipeline.data.synthetic import generate, mask_interviews, true_probabilities
from pipeline.evaluate import Evaluation, evaluate_outcome, make_plots
from pipeline.fairness.audit import AuditSettings, ModelAudit, audit_model
from pipeline.fairness.report import write_report
from pipeline.metrics import flatten
from pipeline.modelcard import DataSummary, ModelCard, build_card, card_summary, group_metrics, write_card
from pipeline.modeling import (
    OutcomeFit,
    check_compiled,
    compile_screening_model,
    fit_answer_model,
    fit_outcome,
    uncertainty_ensemble,
)
from pipeline.referral import ReferralSummary, choose_tiers, tier_report
from serving import registry

log = logging.getLogger(__name__)
STAGES = ("load", "split", "fit", "ensemble", "evaluate", "model card", "log and register")
CTDC_NOTE = (
    "This data holds identified victims only (no people who were not exploited). The run trains the "
    "question it can answer, sexual versus labour exploitation among identified victims, and is never "
    "registered as a screening model."
)
CASE_FILES_NOTE = (
    "Identified-victim records are case files, not interviews: their unrecorded cells are already "
    "the data's missingness, so no cut-interview copies are added (on the CTDC file they cost 0.008 "
    "AUROC on the test split, 0.813 -> 0.805)."
)
FEEDBACK_LOOP_NOTE = (
    "Field data without outcomes from the random follow-up of unreferred people: its labels exist only "
    "for people an earlier screening referred. A model trained on it learns that the people it did not "
    "refer are never victims, and would refer such people even less next time (a feedback loop). The run "
    "is analysis only and is not registered. Follow up a random sample of unreferred people "
    "(docs/responsible-use.md), then export again with tarozu export --from-log."
)
RESEARCH_NOTE = (
    "Research run: analysis only. Logged to MLflow with tarozu.research=true and never registered, whatever the data."
)
COMPILE_GAP = "compiled tables disagree with the fitted models by {gap:.2e} log-odds; not registering"


@dataclass(frozen=True)
class Splits:
    train: pd.DataFrame
    calibration: pd.DataFrame
    test: pd.DataFrame


Say = Callable[[str], None]
"""Adds a few words to the line a stage shows when it ends."""


class Stage(Protocol):
    """Runs a named stage: ``with stage("fit") as say: ...; say("what it did")``."""

    def __call__(self, name: str) -> AbstractContextManager[Say]: ...


@contextmanager
def quiet(name: str) -> Iterator[Say]:
    """A stage that shows nothing (the default of :func:`fit_screening_model`)."""
    yield lambda _words: None


@dataclass(frozen=True)
class FittedScreening:
    """What :func:`fit_screening_model` fitted: the compiled model and what it was fitted on.

    ``train_rows`` is the training split with its cut interviews (what the estimators saw);
    ``rows_used`` the rows of the data that were split (identified victims only: the victims).
    """

    model: ScreeningModel
    fits: Mapping[str, OutcomeFit]
    splits: Splits
    train_rows: pd.DataFrame
    encoder: FieldEncoder
    outcomes: tuple[str, ...]
    identified_victims_only: bool
    rows_used: int
    compile_gap: float


@dataclass(frozen=True)
class Evaluated:
    """The evaluation of a fitted model on its test split (card, run and plots read it)."""

    evaluation: Evaluation
    codes: pd.DataFrame
    fairness: ModelAudit | None
    referral: ReferralSummary


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced; ``version`` is None when nothing was registered."""

    model: ScreeningModel | None
    test_evaluation: Evaluation
    card: ModelCard
    run_id: str | None
    version: str | None
    screening_model: bool
    fits: Mapping[str, OutcomeFit] = field(default_factory=dict)
    splits: Splits | None = None
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def evaluation(self) -> dict[str, Any]:
        """The evaluation as logged to the run (``evaluation.json``)."""
        return self.test_evaluation.to_json()


@dataclass(frozen=True)
class LoggedRun:
    """What :func:`log_run` logged: the run, the registered version (None: not registered) and the card as logged."""

    run_id: str
    version: str | None
    card: ModelCard


def bayes_given_inputs(test: pd.DataFrame, config: TrainConfig) -> pd.DataFrame | None:
    """The generator's posterior given only the model's input fields, on generated data.

    None when it cannot be computed exactly: data from files (their scenario is unknown),
    combined data sets, or a model that does not use ``migrant_status``.
    """

    if config.data.source != "synthetic" or config.data.extra:
        return None
    q = load_questionnaire()
    hidden = tuple(f.id for f in (*q.context, *q.monitoring) if f.id not in config.feature_fields)
    if STATUS_FIELD in hidden:
        return None
    return true_probabilities(test, scenario=config.data.scenario, hidden=hidden)


# ---------------------------------------------------------------- stage 1: load
def load_data(config: TrainConfig, *, work_dir: Path) -> Dataset:
    """The training data through the validated loader (synthetic data is written first)."""
    if config.data.source == "synthetic":
        frame = generate(rows=config.data.rows, seed=config.data.seed, scenario=config.data.scenario)
        path = work_dir / f"synthetic-{config.data.scenario}-{config.data.rows}-{config.data.seed}.parquet"
        write_frame(frame, path)
        dataset = load_dataset(path)
    else:
        dataset = load_dataset(str(config.data.path))
    if config.data.extra:
        dataset = combine(dataset, [load_dataset(p) for p in config.data.extra])
    return dataset


def combine(first: Dataset, others: list[Dataset]) -> Dataset:
    """Stack data sets on their common columns (ground truth only if all have it)."""
    frames = [first.frame] + [d.frame for d in others]
    common = [c for c in first.frame.columns if all(c in f.columns for f in frames)]
    frame = validate_frame(pd.concat([f[common] for f in frames], ignore_index=True))
    notes = list(first.notes)
    for d in others:
        notes.extend(d.notes)
        notes.append(f"added {len(d.frame)} rows from {d.path.name} ({d.source})")
    return Dataset(
        frame=frame,
        source="+".join([first.source] + [d.source for d in others]),
        identified_victims_only=first.identified_victims_only and all(d.identified_victims_only for d in others),
        has_ground_truth=first.has_ground_truth and all(d.has_ground_truth for d in others),
        unmapped_columns=sorted(set(first.unmapped_columns).union(*[d.unmapped_columns for d in others])),
        missing_fields=sorted(set(first.missing_fields).union(*[d.missing_fields for d in others])),
        digest="+".join([first.digest] + [d.digest for d in others]),
        path=first.path,
        layout=first.layout,
        notes=notes,
    )


# ---------------------------------------------------------------- stage 2: split
def split_data(frame: pd.DataFrame, *, calibration: float, test: float, seed: int) -> Splits:
    """Train / calibration / test, stratified by outcome, whole groups kept together.

    Rows sharing a ``group_id`` (a household or case) go to the same split, so that no
    person's relatives leak between training and test. Each group's stratum is its
    combination of outcomes; within a stratum groups are dealt out in random order.
    """
    rng = np.random.default_rng(seed)
    groups = frame["group_id"].to_numpy() if "group_id" in frame else np.arange(len(frame))
    stratum = frame["is_labour"].to_numpy() * 2 + frame["is_sexual"].to_numpy()
    g = pd.DataFrame({"group": groups, "stratum": stratum}).groupby("group", sort=True)["stratum"].max()
    order = rng.permutation(len(g))
    shuffled = g.iloc[order]
    rank = shuffled.groupby(shuffled.to_numpy()).cumcount().to_numpy()
    size = shuffled.groupby(shuffled.to_numpy()).transform("size").to_numpy()
    position = (rank + rng.random(len(rank))) / size
    assignment = np.where(position < test, 2, np.where(position < test + calibration, 1, 0))
    split_of_group = pd.Series(assignment, index=shuffled.index)
    split = split_of_group.reindex(groups).to_numpy()
    parts = [frame.loc[split == k].reset_index(drop=True) for k in (0, 1, 2)]
    return Splits(train=parts[0], calibration=parts[1], test=parts[2])


def with_cut_interviews(frame: pd.DataFrame, interviews: InterviewsConfig, *, seed: int) -> pd.DataFrame:
    """``frame`` and ``interviews.masked_copies`` copies of it cut to fewer asked questions.

    Which questions a copy keeps depends on the seed and on what was asked, never on the
    answers or the truth, so the copies are interviews that could have happened.
    """
    if interviews.masked_copies == 0 or frame.empty:
        return frame
    copies = [
        mask_interviews(
            frame,
            seed=seed + k,
            min_asked=interviews.min_asked,
            max_asked=interviews.max_asked,
            context_unrecorded=interviews.context_unrecorded,
        )
        for k in range(interviews.masked_copies)
    ]
    kept = [c for c in frame.columns if all(c in copy.columns for copy in copies)]
    return pd.concat([frame[kept], *(copy[kept] for copy in copies)], ignore_index=True)


# ---------------------------------------------------------------- stage 3: fit (pure)
def fit_screening_model(config: TrainConfig, dataset: Dataset, *, stage: Stage = quiet) -> FittedScreening:
    """Split, fit every candidate, draw the ensembles, compile, check, and set the referral tiers.

    No MLflow and no console: ``stage`` shows the progress when the caller wants it.
    Identified-victim data (CTDC) fits the sexual-versus-labour question on the victims only.
    Raises ValueError when the compiled tables disagree with the fitted models.
    """
    victims_only = dataset.identified_victims_only
    frame = dataset.frame
    if victims_only:
        frame = frame.loc[(frame["is_labour"] == 1) | (frame["is_sexual"] == 1)].reset_index(drop=True)
    with stage("split") as say:
        splits = split_data(frame, calibration=config.split.calibration, test=config.split.test, seed=config.split.seed)
        say(f"train {len(splits.train):,} / calibration {len(splits.calibration):,} / test {len(splits.test):,}")
        interviews = config.interviews
        if victims_only:
            interviews = interviews.model_copy(update={"masked_copies": 0})
        train_rows = with_cut_interviews(splits.train, interviews, seed=interviews.seed)
        calibration_rows = with_cut_interviews(splits.calibration, interviews, seed=interviews.seed + 1000)
        for name, rows in (
            ("training rows", train_rows),
            ("calibration rows", calibration_rows),
            ("test", splits.test),
        ):
            check_stage_frame(rows, stage=f"split ({name})")
    encoder = FieldEncoder(config.feature_fields)
    outcomes: tuple[str, ...] = ("sexual",) if victims_only else ("labour", "sexual")
    prod = config.models.production
    with stage("fit") as say:
        fits = {
            o: fit_outcome(outcome=o, config=config, encoder=encoder, train=train_rows, calibration=calibration_rows)
            for o in outcomes
        }
        say(
            ", ".join(
                f"{o}: {len(f.candidates)} candidates, threshold {f.candidates[prod].threshold:.4f}"
                for o, f in fits.items()
            )
        )
    with stage("ensemble") as say:
        ensembles = {
            o: uncertainty_ensemble(
                candidate=fits[o].candidates[prod],
                encoder=encoder,
                train=train_rows,
                calibration=calibration_rows,
                label=LABELS[o],
                members=config.calibration.ensemble_members,
                seed=config.split.seed + 1,
                dont_know_cap=config.models.sparse_logistic.dont_know_cap,
            )
            for o in outcomes
        }
        metadata = {
            "questionnaire_version": _questionnaire_version(),
            "data_digest": dataset.digest,
            "data_source": dataset.source,
            "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        model = compile_screening_model(
            fits=fits,
            production=prod,
            encoder=encoder,
            ensembles=ensembles,
            answer_model=fit_answer_model(
                encoder=encoder,
                frame=splits.train,
                settled_flip_chance=config.calibration.settled_flip_chance,
            ),
            dont_know_cap=config.models.sparse_logistic.dont_know_cap,
            metadata=metadata,
        )
        gap = check_compiled(model, fits, prod, splits.test)
        if gap > 1e-6:
            raise ValueError(COMPILE_GAP.format(gap=gap))
        model = with_referral_tiers(model, splits.calibration, config)
        say(f"{config.calibration.ensemble_members} Laplace draws per outcome; tables match the fits to {gap:.1e}")
    return FittedScreening(
        model=model,
        fits=fits,
        splits=splits,
        train_rows=train_rows,
        encoder=encoder,
        outcomes=outcomes,
        identified_victims_only=victims_only,
        rows_used=len(frame),
        compile_gap=gap,
    )


# ---------------------------------------------------------------- stage 4: evaluate
def evaluate_fit(config: TrainConfig, fitted: FittedScreening) -> Evaluated:
    """Every candidate on the test split, the fairness audit (screening models) and the referral tiers."""
    test = fitted.splits.test
    codes = fitted.encoder.transform(test)
    given_inputs = bayes_given_inputs(test, config)
    evaluation = Evaluation(
        {
            o: evaluate_outcome(
                fit=fitted.fits[o],
                codes=codes,
                test=test,
                n_boot=config.evaluation.bootstrap,
                seed=config.evaluation.seed,
                p_given_inputs=None if given_inputs is None else given_inputs[GROUND_TRUTH_P[o]].to_numpy(),
                production=config.models.production,
            )
            for o in fitted.outcomes
        }
    )
    fairness = None if fitted.identified_victims_only else audit_test_split(fitted.model, test, config)
    return Evaluated(
        evaluation=evaluation,
        codes=codes,
        fairness=fairness,
        referral=referral_summary(fitted.model, test, config),
    )


# ---------------------------------------------------------------- stage 5: model card
def screening_card(config: TrainConfig, dataset: Dataset, fitted: FittedScreening, evaluated: Evaluated) -> ModelCard:
    """The model card of a fit (not registered yet: ``version`` is set when it is)."""
    victims_only = fitted.identified_victims_only
    notes = list(dataset.notes)
    if victims_only:
        notes[:0] = [CTDC_NOTE, CASE_FILES_NOTE]
    notes += _selective_label_notes(dataset)
    if referred_only(dataset):
        notes.insert(0, FEEDBACK_LOOP_NOTE)
    splits = fitted.splits
    data_summary = DataSummary(
        source=dataset.source,
        layout=dataset.layout,
        rows=len(dataset.frame),
        rows_used=fitted.rows_used,
        digest=dataset.digest,
        identified_victims_only=victims_only,
        has_ground_truth=dataset.has_ground_truth,
        unmapped_columns=tuple(dataset.unmapped_columns),
        fields_not_in_source=tuple(dataset.missing_fields),
        split={"train": len(splits.train), "calibration": len(splits.calibration), "test": len(splits.test)},
    )
    return build_card(
        name=config.registry.model_name,
        version=None,
        config=config,
        data=data_summary,
        evaluation=evaluated.evaluation,
        features=fitted.encoder.field_ids,
        screening_model=not victims_only,
        group_metrics=None if evaluated.fairness is None else group_metrics(evaluated.fairness),
        referral=evaluated.referral,
        notes=notes,
    )


# ---------------------------------------------------------------- the run
def progress_stages(progress: Progress, total: int, timings: dict[str, float]) -> Stage:
    """Stages shown on ``progress``: a bar while they run, a line with their time when they end."""
    task = progress.add_task("training", total=total)

    @contextmanager
    def stage(name: str) -> Iterator[Say]:
        progress.update(task, description=f"[bold]{name}")
        start = time.perf_counter()
        summary: list[str] = []
        yield summary.append
        timings[name] = time.perf_counter() - start
        progress.console.print(f"[green]✓[/] {name:<17} {timings[name]:6.1f}s  {' '.join(summary)}")
        progress.advance(task)

    return stage


def train(config: TrainConfig, *, console: Console | None = None, work_dir: Path | None = None) -> TrainResult:
    """Run every stage; registers the model unless the data cannot make a screening model."""
    console = console or Console(stderr=True)
    timings: dict[str, float] = {}
    work = work_dir or Path("data") / "synthetic"
    work.mkdir(parents=True, exist_ok=True)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as progress:
        stage = progress_stages(progress, len(STAGES), timings)
        with stage("load") as say:
            dataset = load_data(config, work_dir=work)
            loop = referred_only(dataset)
            if loop:
                console.print(f"[yellow]note:[/] {FEEDBACK_LOOP_NOTE}")
            say(f"{len(dataset.frame):,} rows from {dataset.source} ({dataset.layout}), digest {dataset.digest[:12]}")
            if dataset.identified_victims_only:
                console.print(f"[yellow]note:[/] {CTDC_NOTE}")
        fitted = fit_screening_model(config, dataset, stage=stage)
        prod = config.models.production
        with stage("evaluate") as say:
            evaluated = evaluate_fit(config, fitted)
            say(
                ", ".join(
                    f"{o}: AUROC {ev.models[prod].observed['auroc'].value:.3f} "
                    f"log-loss {ev.models[prod].observed['log_loss'].value:.4f}"
                    for o, ev in evaluated.evaluation.outcomes.items()
                )
            )
        with stage("model card") as say:
            card = screening_card(config, dataset, fitted, evaluated)
            say(f"{len(card.to_json())} sections")
        with stage("log and register") as say:
            logged = log_run(
                config=config,
                dataset=dataset,
                model=fitted.model,
                card=card,
                evaluation=evaluated.evaluation,
                fits=fitted.fits,
                splits=fitted.splits,
                codes=evaluated.codes,
                register=not fitted.identified_victims_only and not loop,
                fairness=evaluated.fairness,
            )
            say(
                f"run {logged.run_id[:8]}"
                + (
                    f", registered {config.registry.model_name} version {logged.version} @challenger"
                    if logged.version
                    else ", not registered"
                )
            )
    return TrainResult(
        model=fitted.model,
        test_evaluation=evaluated.evaluation,
        card=logged.card,
        run_id=logged.run_id,
        version=logged.version,
        screening_model=not fitted.identified_victims_only,
        fits=fitted.fits,
        splits=fitted.splits,
        timings=timings,
    )


def _probabilities_and_labels(
    model: ScreeningModel, frame: pd.DataFrame
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    scores = model.score_codes(model.encoder.transform(frame).to_numpy())
    names = model.outcome_names
    return {o: scores[o].probability for o in names}, {o: frame[LABELS[o]].to_numpy() for o in names}


def with_referral_tiers(model: ScreeningModel, calibration: pd.DataFrame, config: TrainConfig) -> ScreeningModel:
    """The model with its referral-tier thresholds, chosen on the calibration split (full interviews)."""
    p, y = _probabilities_and_labels(model, calibration)
    choice = choose_tiers(p, y, config.referral)
    rule = {
        "settings": config.referral.model_dump(mode="json"),
        "levels": choice.levels,
        "calibration": choice.achieved.to_json(),
        "combine": "a person's tier is the highest over the outcomes",
    }
    return model.with_referral(choice.thresholds, rule=rule)


def referral_summary(model: ScreeningModel, test: pd.DataFrame, config: TrainConfig) -> ReferralSummary:
    """The card's referral section: the rule, its thresholds, and each tier on the test split."""
    p, y = _probabilities_and_labels(model, test)
    thresholds = {o: dict(model.outcomes[o].referral) for o in model.outcome_names}
    report = tier_report(p, y, thresholds, n_boot=config.evaluation.bootstrap, seed=config.evaluation.seed)
    return ReferralSummary.of(model.metadata.get("referral", {}), thresholds, report)


def audit_test_split(model: ScreeningModel, test: pd.DataFrame, config: TrainConfig) -> ModelAudit:
    """The fairness audit of the compiled model on the test split (for the card and the run)."""

    return audit_model(
        model=model,
        frame=test,
        settings=AuditSettings.from_config(config),
        data=f"the test split ({len(test):,} rows)",
    )


def _questionnaire_version() -> str:
    return load_questionnaire().version


def referred_only(dataset: Dataset) -> bool:
    """Field data whose export holds no outcome from the random follow-up of unreferred people.

    An export without its report (``<file>.report.json``) cannot show a follow-up, so it counts as
    referred people only.
    """
    if "field" not in dataset.source.split("+"):
        return False
    report = Path(f"{dataset.path}.report.json")
    if not report.exists():
        return True
    counts = json.loads(report.read_text(encoding="utf-8")).get("counts", {})
    return int(counts.get("follow_up", 0)) == 0


def _selective_label_notes(dataset: Dataset) -> list[str]:
    """Field data (exported from the audit log) carries outcomes of referred people only."""
    if "field" not in dataset.source.split("+"):
        return []
    report = Path(f"{dataset.path}.report.json")
    if report.exists():
        return [str(json.loads(report.read_text(encoding="utf-8"))["selective_labels"])]
    return ["Selective labels: field data holds outcomes of referred people only; unreferred people have none."]


def log_run(
    *,
    config: TrainConfig,
    dataset: Dataset,
    model: ScreeningModel,
    card: ModelCard,
    evaluation: Evaluation,
    fits: Mapping[str, OutcomeFit],
    splits: Splits,
    codes: pd.DataFrame,
    register: bool,
    fairness: ModelAudit | None = None,
) -> LoggedRun:
    """Params, metrics, data set, plots, card and scorecard to MLflow; register when allowed.

    The card is logged with the registered version's number (``card.with_version``), as returned.
    """
    import mlflow

    registry.client()
    experiment_id = registration.ensure_experiment(config.registry.experiment)
    prod = config.models.production
    with mlflow.start_run(experiment_id=experiment_id) as run, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        mlflow.set_tags(
            {
                "tarozu.screening_model": str(register).lower(),
                "tarozu.data_source": dataset.source,
                "tarozu.production_estimator": prod,
            }
        )
        mlflow.log_params(flatten(config.model_dump(mode="json")) | {"data.digest": dataset.digest[:40]})
        metrics = {}
        for o, ev in evaluation.to_json().items():
            for name, entry in ev["models"].items():
                metrics.update(flatten(entry["observed"], f"{o}.{name}"))
                for gap in ("gap_to_bayes", "gap_to_bayes_given_inputs", "by_questions_asked"):
                    if gap in entry:
                        metrics.update(flatten(entry[gap], f"{o}.{name}.{gap}"))
            for bound in ("bayes_optimal", "bayes_given_inputs"):
                if bound in ev:
                    metrics.update(flatten(ev[bound], f"{o}.{bound}"))
        for tier, entry in ({} if card.referral is None else card.referral.test.tiers).items():
            for measure in ("rate", "ppv", "sensitivity", "sensitivity_at_or_above"):
                for part, value in getattr(entry, measure).to_json().items():
                    if value is not None:
                        metrics[f"referral.{tier}.{measure}.{part}"] = value
        mlflow.log_metrics({k.replace("[", "_").replace("]", "_"): v for k, v in metrics.items() if np.isfinite(v)})
        # MLflow infers a data set's schema value by value (minutes for 100,000 rows of text);
        # the schema comes from a sample, the digest from the whole file, the size from the params.
        import warnings

        with warnings.catch_warnings():
            # MLflow 3.17 registers its local-file source twice (schemes "" and "file"), so any
            # local path is "ambiguous" between two identical classes; and its integer-column
            # hint is about a model's input schema, not a record of training data whose integer
            # columns (labels, group ids, year) are never missing. Neither asks anything of us.
            warnings.filterwarnings("ignore", "The specified dataset source can be interpreted", UserWarning)
            warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer column", UserWarning)
            ds = mlflow.data.from_pandas(  # type: ignore[attr-defined]
                dataset.frame.head(1000),
                source=dataset.path.name,
                name=f"tarozu-{dataset.source}",
                digest=dataset.digest[:20],
            )
            mlflow.log_param("data.rows_loaded", len(dataset.frame))
            mlflow.log_input(ds, context="training")
        for path in make_plots(fits=fits, codes=codes, test=splits.test, production=prod, out_dir=out / "plots"):
            mlflow.log_artifact(str(path), artifact_path="plots")
        (out / "evaluation.json").write_text(
            json.dumps(evaluation.to_json(), indent=1, default=float), encoding="utf-8"
        )
        mlflow.log_artifact(str(out / "evaluation.json"))
        for outcome in model.outcome_names:
            sc = make_scorecard(model, outcome)
            (out / f"scorecard_{outcome}.md").write_text(sc.to_markdown(), encoding="utf-8")
            (out / f"scorecard_{outcome}.json").write_text(json.dumps(sc.to_dict(), indent=1), encoding="utf-8")
            mlflow.log_artifact(str(out / f"scorecard_{outcome}.md"), artifact_path="scorecard")
            mlflow.log_artifact(str(out / f"scorecard_{outcome}.json"), artifact_path="scorecard")
        if fairness is not None:
            write_report(fairness, out / "fairness")
            mlflow.log_artifacts(str(out / "fairness"), artifact_path="fairness")
        version = None
        if register and config.registry.register_model:
            version, _ = registration.log_screening_model(model, registered_name=config.registry.model_name)
            card = card.with_version(version)
        else:
            registration.log_screening_model(model, registered_name=None)
        write_card(card, out / "model_card")
        mlflow.log_artifacts(str(out / "model_card"), artifact_path="model_card")
        if version:
            registration.set_alias(name=config.registry.model_name, alias=registry.CHALLENGER, version=version)
            describe_version(name=config.registry.model_name, version=version, card=card, model=model)
        return LoggedRun(run_id=run.info.run_id, version=version, card=card)


def describe_version(*, name: str, version: str, card: ModelCard, model: ScreeningModel) -> None:
    """What the registry shows of a version: the card's summary, and tags for its provenance."""

    c = registry.client()
    c.update_model_version(name, version, description=card_summary(card))
    tags = {
        "questionnaire_version": model.metadata.get("questionnaire_version"),
        "data_source": card.data.source,
        "data_digest": card.data.digest,
        "fairness_gate": "not run",
    }
    for key, value in tags.items():
        c.set_model_version_tag(name, version, key, str(value)[:5000])
