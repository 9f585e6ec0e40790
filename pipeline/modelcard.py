"""The model card, in Markdown and JSON, with the usual sections (Mitchell et al., 2019)."""

from __future__ import annotations

from typing import Any

OUT_OF_SCOPE = [
    "immigration enforcement, border control or any decision about a person's migration status",
    "criminal profiling, investigation or prosecution of the person screened or of others",
    "any automated decision without a person: every referral is decided by a trained screener",
    "deciding that a person is, or is not, a victim of trafficking",
    "screening children without a child-specific protocol and a guardian or specialist present",
]


def build_card(
    *,
    name: str,
    version: str | None,
    config: dict[str, Any],
    data: dict[str, Any],
    evaluation: dict[str, Any],
    production: str,
    features: list[str],
    protected_as_features: list[str],
    protected_reason: str | None,
    screening_model: bool,
    group_metrics: dict[str, Any] | None = None,
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """The card as a JSON-able dict; :func:`card_markdown` renders it."""
    metrics = {}
    for outcome, ev in evaluation.items():
        entry = ev["models"][production]
        metrics[outcome] = {
            "n": ev["n"],
            "prevalence_observed": ev["prevalence_observed"],
            "threshold": entry["threshold"],
            "high_threshold": entry["high_threshold"],
            "observed": entry["observed"],
            "truth": entry.get("truth"),
            "gap_to_bayes": entry.get("gap_to_bayes"),
            "gap_to_bayes_given_inputs": entry.get("gap_to_bayes_given_inputs"),
            "by_questions_asked": entry.get("by_questions_asked", {}),
            "baselines": {
                b: {k: ev["models"][b]["observed"][k] for k in ("auroc", "log_loss", "sensitivity", "specificity")}
                for b in ("count_screener", "delphi_rule")
                if b in ev["models"]
            },
        }
    return {
        "model_details": {
            "name": name,
            "version": version,
            "estimator": production,
            "type": "additive logistic model per outcome, Platt-calibrated; explanations are exact",
            "outcomes": list(evaluation),
            "features": features,
            "protected_attributes_as_features": protected_as_features,
            "why_protected_attributes_are_features": protected_reason,
            "config": config,
        },
        "intended_use": {
            "purpose": (
                "Decision support for trained screeners in counter-trafficking programmes: a calibrated "
                "probability and its reasons help decide whether to refer a person for a specialist "
                "assessment under the national referral mechanism."
            ),
            "users": ["screeners", "specialists", "reviewers", "data scientists"],
            "screening_model": screening_model,
        },
        "out_of_scope_uses": OUT_OF_SCOPE,
        "data": data,
        "metrics": metrics,
        "metrics_by_group": group_metrics or {},
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
            "The recommendation is refer or no_referral only when the unasked questions would change it with "
            "a chance below the configured level, and never refer on non-answers alone (ask_more instead); "
            "a yes to the danger question refers at once.",
            "No direct identifiers are used or stored; case references are kept only as keyed hashes.",
            "A wrongful flag costs a specialist interview and can stigmatise; a missed victim stays "
            "unprotected. The operating threshold favours sensitivity for that reason.",
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


def _fmt(m: dict[str, float]) -> str:
    return f"{m['value']:.3f} [{m['lower']:.3f}, {m['upper']:.3f}]"


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
                "| baseline | AUROC | log-loss | sensitivity | specificity |",
                "|---|---|---|---|---|",
            ]
            for b, bm in m["baselines"].items():
                lines.append(
                    f"| {b} | "
                    + " | ".join(_fmt(bm[k]) for k in ("auroc", "log_loss", "sensitivity", "specificity"))
                    + " |"
                )
    lines += ["", "## Metrics by group"]
    if card["metrics_by_group"]:
        lines.append("See the fairness report (`fairness/report.html` in the run) for every group and metric.")
        for key, value in card["metrics_by_group"].items():
            lines.append(f"- {key}: {value}")
    else:
        lines.append("Not computed for this run.")
    lines += ["", "## Ethical considerations", *[f"- {e}" for e in card["ethical_considerations"]]]
    lines += ["", "## Caveats and recommendations", *[f"- {c}" for c in card["caveats_and_recommendations"]]]
    return "\n".join(lines) + "\n"
