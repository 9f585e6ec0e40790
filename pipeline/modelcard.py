"""The model card, in Markdown and JSON, with the usual sections (Mitchell et al., 2019)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipeline.fairness.audit import ERROR_METRICS, JOIN

if TYPE_CHECKING:
    from pipeline.evaluate import Evaluation
    from pipeline.fairness.audit import ModelAudit

OUT_OF_SCOPE = [
    "immigration enforcement, border control or any decision about a person's migration status",
    "criminal profiling, investigation or prosecution of the person screened or of others",
    "any automated decision without a person: every referral is decided by a trained screener",
    "deciding that a person is, or is not, a victim of trafficking",
    "screening children without a child-specific protocol and a guardian or specialist present",
]


@dataclass(frozen=True)
class DataSummary:
    """The card's data section: what was trained on, and what its source could not give."""

    source: str
    rows: int
    digest: str
    layout: str = "tarozu"
    rows_used: int | None = None
    identified_victims_only: bool = False
    has_ground_truth: bool = False
    unmapped_columns: tuple[str, ...] = ()
    fields_not_in_source: tuple[str, ...] = ()
    split: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "layout": self.layout,
            "rows": self.rows,
            "rows_used": self.rows if self.rows_used is None else self.rows_used,
            "digest": self.digest,
            "identified_victims_only": self.identified_victims_only,
            "has_ground_truth": self.has_ground_truth,
            "unmapped_columns": list(self.unmapped_columns),
            "fields_not_in_source": list(self.fields_not_in_source),
            "split": dict(self.split),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DataSummary:
        return cls(
            source=str(raw["source"]),
            rows=int(raw["rows"]),
            digest=str(raw["digest"]),
            layout=str(raw.get("layout", "tarozu")),
            rows_used=raw.get("rows_used"),
            identified_victims_only=bool(raw.get("identified_victims_only", False)),
            has_ground_truth=bool(raw.get("has_ground_truth", False)),
            unmapped_columns=tuple(raw.get("unmapped_columns", ())),
            fields_not_in_source=tuple(raw.get("fields_not_in_source", ())),
            split=dict(raw.get("split", {})),
        )


def build_card(
    *,
    name: str,
    version: str | None,
    config: dict[str, Any],
    data: DataSummary,
    evaluation: Evaluation,
    production: str,
    features: list[str],
    protected_as_features: list[str],
    protected_reason: str | None,
    screening_model: bool,
    group_metrics: dict[str, Any] | None = None,
    referral: dict[str, Any] | None = None,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """The card as a JSON-able dict; :func:`card_markdown` renders it."""
    metrics = {}
    for outcome, ev in evaluation.outcomes.items():
        entry = ev.models[production].to_json()
        metrics[outcome] = {
            "n": ev.n,
            "prevalence_observed": ev.prevalence_observed,
            "threshold": entry["threshold"],
            "high_threshold": entry["high_threshold"],
            "observed": entry["observed"],
            "truth": entry.get("truth"),
            "gap_to_bayes": entry.get("gap_to_bayes"),
            "gap_to_bayes_given_inputs": entry.get("gap_to_bayes_given_inputs"),
            "by_questions_asked": entry["by_questions_asked"],
            "baselines": {
                b: _baseline(ev.models[b].to_json()) for b in ("count_screener", "delphi_rule") if b in ev.models
            },
        }
    return {
        "model_details": {
            "name": name,
            "version": version,
            "estimator": production,
            "type": "additive logistic model per outcome, Platt-calibrated; explanations are exact",
            "outcomes": list(evaluation.outcomes),
            "features": features,
            "protected_attributes_as_features": protected_as_features,
            "why_protected_attributes_are_features": protected_reason,
            "config": config,
        },
        "intended_use": {
            "purpose": (
                "Decision support for trained screeners in counter-trafficking programmes: the signs in "
                "a person's answers, and their reasons, help decide where to refer them: a specialist "
                "assessment under the national referral mechanism (nrm), legal, labour-rights or "
                "migrant-support services (support), safe-migration information, or no referral."
            ),
            "users": ["screeners", "specialists", "reviewers", "data scientists"],
            "screening_model": screening_model,
        },
        "out_of_scope_uses": OUT_OF_SCOPE,
        "data": data.to_json(),
        "metrics": metrics,
        "metrics_by_group": group_metrics or {},
        "referral": referral or {},
        "ethical_considerations": [
            "The output supports a person's judgement; it is never a verdict that someone is a victim.",
            "Labels reflect who was identified, not who was exploited: identification bias is audited "
            "(`tarozu audit`), and groups whose victims are under-identified will look lower risk.",
            "Protected attributes (gender, age, citizenship, region) and how the interview was held "
            "(language, interpreter, who else was present, site) are audit inputs, not model features, "
            "unless the configuration above says otherwise and gives the reason.",
            "A question not asked, a declined answer and an unrecorded context field contribute exactly 0; "
            "all don't-know answers of a case together move its log-odds by at most "
            f"{config.get('models', {}).get('sparse_logistic', {}).get('dont_know_cap', 'the configured cap')}. "
            "The recommendation is a referral tier only when the unasked questions would change the tier with "
            "a chance below the configured level (ask_more otherwise); never a referral (support or nrm) on "
            "non-answers alone; a yes to the danger question refers to nrm at once. Screeners see the tier, "
            "the band words, the reasons and the next questions, not the probability of a type of "
            "exploitation (unless the service is set to show it).",
            "No direct identifiers are used or stored; case references are kept only as keyed hashes.",
            "A wrongful flag costs a specialist interview and can stigmatise; a missed victim stays "
            "unprotected. The tiers keep the specialist assessment within the referral mechanism's "
            "capacity and send the wider net of sensitivity to support services instead.",
        ],
        "caveats_and_recommendations": (notes or [])
        + [
            "Trained on synthetic data unless the data section says otherwise: check the fairness audit "
            "and local validation before any field use.",
            "Only referred people get outcomes (selective labels): models retrained from the field learn "
            "from referred cases only.",
            "Translations of the questionnaire need review by native-speaking practitioners.",
        ],
    }


def with_accepted_risk(card: Mapping[str, Any], *, at: str, reason: str, overridden: tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``card`` that records a promotion despite refusal reasons, and the reason given.

    The risk is listed under ``accepted_risks`` and stated first among the caveats.
    """
    caveat = f"Promoted on {at} despite: {'; '.join(overridden)}. Accepted risk: {reason}"
    return {
        **card,
        "accepted_risks": [
            *card.get("accepted_risks", []),
            {"at": at, "reason": reason, "overridden": list(overridden)},
        ],
        "caveats_and_recommendations": [caveat, *card.get("caveats_and_recommendations", [])],
    }


def _baseline(entry: dict[str, Any]) -> dict[str, Any]:
    """A baseline's AUROC and log-loss, and its metrics where it is as specific as the model (if known)."""
    return {
        **{k: entry["observed"][k] for k in ("auroc", "log_loss")},
        **entry.get("at_model_specificity", entry["observed"]),
    }


def _fmt(m: dict[str, float]) -> str:
    return f"{m['value']:.3f} [{m['lower']:.3f}, {m['upper']:.3f}]"


def group_metrics(audit: ModelAudit) -> dict[str, Any]:
    """The card's "metrics by group": miss and false-alarm rates with intervals and verdicts.

    Every single attribute of the audit (not the intersections: those are in the report), on
    observed labels; the verdicts are the audit's, adjusted over the whole report.
    """

    section = audit.observed
    verdicts = {(c.attribute, c.outcome, c.metric, c.group): c.verdict for c in section.comparisons}
    answer = audit.answer()
    attributes: dict[str, Any] = {}
    for table in section.tables:
        if JOIN in table.attribute:
            continue
        attributes.setdefault(table.attribute, {})[table.outcome] = [
            {
                "group": g.group,
                "people": g.people,
                "victims": g.victims,
                **{
                    m: {
                        "value": g.errors[m].value,
                        "lower": g.errors[m].lower,
                        "upper": g.errors[m].upper,
                        "verdict": verdicts.get((table.attribute, table.outcome, m, g.group), "reference"),
                    }
                    for m in ERROR_METRICS
                },
            }
            for g in table.groups
        ]
    return {
        "answer": f"{answer.headline} {answer.could_see}",
        "data": audit.data,
        "tolerance": list(audit.settings.tolerance),
        "min_cases": audit.settings.min_cases,
        "attributes": attributes,
    }


def card_summary(card: dict[str, Any]) -> str:
    """A few lines on what the model is, for the registry's model-version description."""
    d, data = card["model_details"], card["data"]
    lines = [
        f"{d['name']}: {d['type']} ({d['estimator']}), outcomes {', '.join(d['outcomes'])}.",
        f"Data: {data.get('source')} ({data.get('rows_used', data.get('rows'))} rows, digest "
        f"{str(data.get('digest', ''))[:12]}).",
    ]
    for outcome, m in card["metrics"].items():
        obs = m["observed"]
        lines.append(
            f"{outcome}: AUROC {_fmt(obs['auroc'])}, sensitivity {_fmt(obs['sensitivity'])}, "
            f"specificity {_fmt(obs['specificity'])} at threshold {m['threshold']:.4f}."
        )
    tiers = card.get("referral", {}).get("test", {}).get("tiers", {})
    if tiers:
        lines.append(
            "Referral tiers on the test split (share of people, PPV): "
            + ", ".join(f"{t} {_pct(e['rate'])} ({_pct(e['ppv'])})" for t, e in tiers.items())
            + "."
        )
    if card.get("metrics_by_group"):
        lines.append(f"By group: {card['metrics_by_group']['answer']}")
    if data.get("source") == "synthetic":
        lines.append("Trained on synthetic data: not validated for field use.")
    return "\n".join(lines)


def _pct(m: dict[str, Any], digits: int = 1) -> str:
    return "–" if m.get("value") is None else f"{m['value']:.{digits}%}"


def _pct_ci(m: dict[str, Any]) -> str:
    if m.get("value") is None:
        return "–"
    if m.get("lower") is None or m.get("upper") is None:
        return _pct(m)
    return f"{m['value']:.1%} [{m['lower']:.1%}, {m['upper']:.1%}]"


TIER_NAMES = {
    "nrm": "nrm: specialist assessment (national referral mechanism)",
    "support": "support: legal, labour-rights or migrant-support services",
    "information": "information: safe-migration information",
    "none": "none: no referral",
}


def _referral_lines(referral: dict[str, Any]) -> list[str]:
    settings, test = referral.get("settings", {}), referral["test"]
    calibration = referral.get("calibration", {})
    lines = [
        "A person's tier is the highest over the outcomes. The thresholds were chosen on the calibration "
        f"split: nrm holds at most {settings.get('nrm_max_share', float('nan')):.0%} of the people screened, "
        f"nrm and support together at least {settings.get('sensitivity', float('nan')):.0%} of the people "
        f"exploited in either way, and nrm, support and information at least "
        f"{settings.get('information_sensitivity', float('nan')):.0%}. Within a tier each outcome's threshold "
        "is where that outcome's sensitivity reaches the same level, so a tier catches labour and sexual "
        "exploitation alike.",
    ]
    if calibration:
        reached = calibration["sensitivity_at_or_above"]
        lines += [
            "",
            f"On the calibration split ({calibration['people']} people, {calibration['victims']} exploited): "
            f"nrm holds {calibration['nrm_share']:.1%}; victims in nrm or above {reached['nrm']:.1%}, in "
            f"support or above {reached['support']:.1%}, in information or above {reached['information']:.1%}.",
        ]
    lines += [
        "",
        "| outcome | information from | support from | nrm from |",
        "|---|---:|---:|---:|",
        *[
            f"| {o} | {t['information']:.4f} | {t['support']:.4f} | "
            + ("nobody" if t["nrm"] > 1 else f"{t['nrm']:.4f}")
            + " |"
            for o, t in referral["thresholds"].items()
        ],
        "",
        f"On the test split ({test['people']} people, {test['victims']} exploited in either way), 95% bootstrap "
        "intervals. Rate: share of people placed in the tier (its expected referrals); PPV: share of them "
        "exploited; sensitivity: share of exploited people placed in the tier, and in it or a higher one.",
        "",
        "| tier | people | rate [95% CI] | PPV [95% CI] | sensitivity [95% CI] | in it or above [95% CI] |",
        "|---|---:|---|---|---|---|",
        *[
            f"| {TIER_NAMES.get(t, t)} | {e['people']} | {_pct_ci(e['rate'])} | {_pct_ci(e['ppv'])} | "
            f"{_pct_ci(e['sensitivity'])} | {_pct_ci(e['sensitivity_at_or_above'])} |"
            for t, e in test["tiers"].items()
        ],
    ]
    return lines


def _group_lines(by_group: dict[str, Any]) -> list[str]:
    lines = [
        by_group["answer"],
        "",
        f"Miss rate (victims the model would not refer) and false-alarm rate (non-victims it would refer), "
        f"95% bootstrap intervals, on {by_group['data'] or 'the test split'}; each group is compared with the "
        f"first (reference) group, tolerance {by_group['tolerance'][0]}-{by_group['tolerance'][1]} times its "
        f"rate, at least {by_group['min_cases']} victims or non-victims for a verdict. Intersections are in "
        "the fairness report (`fairness/report.html` in the run).",
    ]
    for attribute, outcomes in by_group["attributes"].items():
        for outcome, rows in outcomes.items():
            lines += [
                "",
                f"**{attribute}, {outcome}**",
                "",
                "| group | people | victims | miss rate [95% CI] | verdict | false-alarm rate [95% CI] | verdict |",
                "|---|---:|---:|---|---|---|---|",
            ]
            for r in rows:
                cells = " | ".join(f"{_fmt_nan(r[m])} | {r[m]['verdict']}" for m in ("fnr", "fpr"))
                lines.append(f"| {r['group']} | {r['people']} | {r['victims']} | {cells} |")
    return lines


def _fmt_nan(m: dict[str, Any]) -> str:
    values = [m.get(k) for k in ("value", "lower", "upper")]
    if any(v is None or v != v for v in values):
        return "–" if m.get("value") is None or m["value"] != m["value"] else f"{m['value']:.3f}"
    return _fmt(m)


def card_markdown(card: dict[str, Any]) -> str:
    d = card["model_details"]
    lines = [
        f"# Model card: {d['name']} {('version ' + str(d['version'])) if d['version'] else '(not registered)'}",
        "",
        "## Model details",
        f"- Estimator: `{d['estimator']}` ({d['type']})",
        f"- Outcomes: {', '.join(d['outcomes'])}",
        f"- Features: {len(d['features'])} questionnaire fields",
        f"- Protected attributes as features: {d['protected_attributes_as_features'] or 'none'}"
        + (f" (reason: {d['why_protected_attributes_are_features']})" if d["protected_attributes_as_features"] else ""),
        "",
        "## Intended use",
        card["intended_use"]["purpose"],
        "",
        f"Registered as a screening model: {'yes' if card['intended_use']['screening_model'] else 'no'}.",
        "",
        "## Out-of-scope uses",
        *[f"- {u}" for u in card["out_of_scope_uses"]],
        "",
        "## Data",
        *[f"- {k}: {v}" for k, v in card["data"].items()],
        "",
        "## Metrics (test split, 95% bootstrap intervals)",
    ]
    for outcome, m in card["metrics"].items():
        obs = m["observed"]
        lines += [
            "",
            f"### {outcome} (n={m['n']}, observed prevalence {m['prevalence_observed']:.3%}, "
            f"threshold {m['threshold']:.4f})",
            "",
            "| metric | value [95% CI] |",
            "|---|---|",
            *[f"| {k} | {_fmt(v)} |" for k, v in obs.items()],
        ]
        if m.get("gap_to_bayes"):
            g = m["gap_to_bayes"]
            lines.append(
                f"\nGap to the Bayes-optimal model: log-loss {g['log_loss_ratio']:+.2%}, "
                f"AUROC {g['auroc_difference']:+.4f}."
            )
        if m.get("gap_to_bayes_given_inputs"):
            g = m["gap_to_bayes_given_inputs"]
            lines.append(
                f"Gap to the Bayes-optimal model given only this model's inputs (no protected "
                f"attributes): log-loss {g['log_loss_ratio']:+.2%}, AUROC {g['auroc_difference']:+.4f}."
            )
        if m.get("by_questions_asked"):
            lines += [
                "",
                "Calibration by number of questions asked:",
                "",
                "| questions asked | n | observed rate | mean probability | ECE | log-loss |",
                "|---|---:|---:|---:|---:|---:|",
                *[
                    f"| {b} | {v['n']} | {v['observed_rate']:.4f} | {v['mean_probability']:.4f} | "
                    f"{v['ece']:.4f} | {v['log_loss']:.4f} |"
                    for b, v in m["by_questions_asked"].items()
                ],
            ]
        if m.get("baselines"):
            lines += [
                "",
                "Baselines, with sensitivity and specificity at the threshold that refers no more "
                "non-victims than the model does (its specificity or higher, on the test split):",
                "",
                "| baseline | AUROC | log-loss | sensitivity | specificity |",
                "|---|---|---|---|---|",
            ]
            for b, bm in m["baselines"].items():
                lines.append(
                    f"| {b} | "
                    + " | ".join(_fmt(bm[k]) for k in ("auroc", "log_loss", "sensitivity", "specificity"))
                    + " |"
                )
    if card.get("referral", {}).get("test"):
        lines += ["", "## Referral tiers (set against capacity)", "", *_referral_lines(card["referral"])]
    lines += ["", "## Metrics by group"]
    if card["metrics_by_group"]:
        lines += _group_lines(card["metrics_by_group"])
    else:
        lines.append("Not computed for this run.")
    lines += ["", "## Ethical considerations", *[f"- {e}" for e in card["ethical_considerations"]]]
    lines += ["", "## Caveats and recommendations", *[f"- {c}" for c in card["caveats_and_recommendations"]]]
    return "\n".join(lines) + "\n"
