"""Self-contained HTML (and JSON) reports of a fairness audit or a field review, for reviewers.

A model report leads with the answer (does the model miss victims in some group more than in
others, and could the data have seen it), then a forest plot per attribute (miss rate and
false-alarm rate of each group with its interval, the reference's rate and the tolerance
band), then the tables. Figures are inline SVG drawn by matplotlib; there are no external
scripts, styles or fonts, and a ``@media print`` block makes the page printable.
"""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.fairness.audit import (
    CANNOT_TELL,
    CORRECTION,
    CRITERIA,
    DISPARITY,
    ERROR_METRICS,
    METRIC_NAMES,
    OTHER_METRICS,
    POPULATION_METRICS,
    SECTION_NAMES,
    TOO_FEW,
    WITHIN,
    Comparison,
    Estimate,
    GroupTable,
    IdentificationAudit,
    LabelAudit,
    ModelAudit,
)
from pipeline.fairness.field import TITLE as FIELD_REVIEW_TITLE, FieldReview

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:70rem;
padding:0 1rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:2px solid #ccc;margin-top:2rem}
h3{font-size:1.1rem;margin-top:1.5rem}table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.2rem .4rem;text-align:right}th{background:#f0f0f0}
td.g,th.g{text-align:left}.disparity{background:#fdd;font-weight:bold}.too-few,.cannot-tell{color:#555}
.within{background:#dfd}.note{background:#f7f7e8;border-left:4px solid #cc9;padding:.5rem 1rem}
.answer{font-size:1.1rem;background:#eef3fa;border-left:6px solid #36c;padding:.6rem 1rem}
details{margin:.5rem 0}svg{display:block;margin:.5rem 0;max-width:100%;height:auto}
@media print{body{max-width:none;margin:0;font-size:10pt}details>*{display:block}
table,svg{page-break-inside:avoid}}
"""
VERDICT_CSS = {DISPARITY: "disparity", WITHIN: "within", CANNOT_TELL: "cannot-tell", TOO_FEW: "too-few"}
VERDICT_COLOUR = {DISPARITY: "#c0392b", WITHIN: "#2e8b57", CANNOT_TELL: "#555555", TOO_FEW: "#bbbbbb"}
SHORT = {"fnr": "miss rate", "fpr": "false-alarm rate"}


def _e(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return _e(value)


def _est(e: Estimate) -> str:
    if not math.isfinite(e.lower):
        return _num(e.value)
    return f"{_num(e.value)}<br><small>[{_num(e.lower)}, {_num(e.upper)}]</small>"


def _ratio(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:.2f}"


def describe(c: Comparison) -> str:
    """One comparison in words, e.g. for the answer box and the promotion gate."""
    where = SECTION_NAMES.get(c.section, c.section)
    return (
        f"{c.outcome}: {SHORT.get(c.metric, c.metric)} of {c.attribute} = {c.group} is {c.rate:.3f} "
        f"({c.events} of {c.cases}), {c.ratio:.2f}× the reference {c.reference}'s {c.ref_rate:.3f} "
        f"(95% interval {c.ratio_lower:.2f}–{c.ratio_upper:.2f}; {where})"
    )


# ---------------------------------------------------------------------------- figures
def forest_figures(audit: ModelAudit) -> dict[str, str]:
    """Per attribute, an SVG forest plot of the miss and false-alarm rates by group (observed labels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    section = audit.observed
    verdicts = {(c.attribute, c.outcome, c.metric, c.group): c.verdict for c in section.comparisons}
    lo, hi = audit.settings.tolerance
    out: dict[str, str] = {}
    with plt.rc_context({"svg.fonttype": "none", "font.size": 8}):
        for attribute in audit.attributes:
            tables = [section.table(attribute, o) for o in audit.outcomes]
            groups = [g.group for g in tables[0].groups]
            panels = [(t, m) for t in tables for m in ERROR_METRICS]
            height = 1.2 + 0.22 * len(groups)
            fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels) + 1.5, height), sharey=True)
            for ax, (table, metric) in zip(axes, panels, strict=True):
                ref = next(g for g in table.groups if g.group == table.reference).errors[metric].value
                if math.isfinite(ref):
                    ax.axvspan(lo * ref, min(hi * ref, 1.0), color="#cfe3cf", zorder=0)
                    ax.axvline(ref, color="#2e8b57", lw=1, zorder=1)
                for y, g in enumerate(table.groups):
                    e = g.errors[metric]
                    verdict = verdicts.get((attribute, table.outcome, metric, g.group), "reference")
                    colour = VERDICT_COLOUR.get(verdict, "#1f4e79")
                    if math.isfinite(e.lower):
                        ax.plot([e.lower, e.upper], [y, y], color=colour, lw=1.2, zorder=2)
                    if math.isfinite(e.value):
                        ax.plot(
                            [e.value],
                            [y],
                            marker="D" if verdict == "reference" else "o",
                            color=colour,
                            mfc="white" if verdict == TOO_FEW else colour,
                            ms=4,
                            zorder=3,
                        )
                ax.set_title(f"{table.outcome}: {SHORT[metric]}")
                ax.set_xlim(0, 1)
                ax.grid(axis="x", color="#eeeeee")
            axes[0].set_yticks(range(len(groups)), [g[:28] for g in groups])
            axes[0].invert_yaxis()
            fig.suptitle(
                f"By {attribute}: rate with 95% interval; shaded: tolerance band around the reference (diamond)",
                fontsize=8,
            )
            fig.tight_layout()
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg")
            plt.close(fig)
            svg = buffer.getvalue()
            out[attribute] = svg[svg.index("<svg") :]
    return out


# ---------------------------------------------------------------------------- model report
def _answer(audit: ModelAudit) -> list[str]:
    a = audit.answer()
    s = audit.settings
    out = [
        "<h2>The answer</h2>",
        f"<div class='answer'><p><strong>Does the model miss victims in some group more than in others?</strong> "
        f"{_e(a.headline)}</p><p><strong>Could the data have seen it?</strong> Of the miss-rate comparisons "
        f"on observed labels, {_e(a.could_see)} A group needs at least {s.min_cases} victims (miss rate) "
        f"or non-victims (false alarms), as does its reference.</p>",
    ]
    if a.misses:
        out.append("<p>Victims missed more often (or less often) than in the reference group:</p><ul>")
        out += [f"<li>{_e(describe(c))}</li>" for c in a.misses]
        out.append("</ul>")
    if a.false_alarms:
        out.append("<p>False alarms (non-victims referred) differ:</p><ul>")
        out += [f"<li>{_e(describe(c))}</li>" for c in a.false_alarms]
        out.append("</ul>")
    if audit.identification is not None:
        if a.under_identified:
            out.append(
                "<p><strong>Identification bias:</strong> these groups' victims carry a label less often, so "
                "observed labels understate their exploitation and a model trained on them learns it:</p><ul>"
            )
            out += [
                f"<li>{_e(f.outcome)}: {_e(f.attribute)} = {_e(f.group)}, identified {f.ratio:.2f}× as often "
                f"as {_e(f.relative_to)}</li>"
                for f in a.under_identified
            ]
            out.append("</ul>")
        else:
            out.append("<p>No group's victims are less often identified than its reference's (ground truth).</p>")
    out.append("</div>")
    return out


def _comparison_table(comparisons: Iterable[Comparison], *, title: str, what: str) -> list[str]:
    rows = list(comparisons)
    if not rows:
        return []
    out = [
        f"<details><summary>{_e(title)} ({len(rows)} comparisons)</summary>",
        f"<table><tr><th class='g'>Attribute</th><th class='g'>Outcome</th><th class='g'>Rate</th>"
        f"<th class='g'>Group</th><th class='g'>Reference</th><th>{_e(what)}</th><th>Reference</th>"
        "<th>Ratio [95%]</th><th>Adjusted p (disparity)</th><th>Detectable ratio (80% power)</th>"
        "<th class='g'>Verdict</th></tr>",
    ]
    for c in rows:
        out.append(
            f"<tr><td class='g'>{_e(c.attribute)}</td><td class='g'>{_e(c.outcome)}</td>"
            f"<td class='g'>{_e(SHORT.get(c.metric, c.metric))}</td><td class='g'>{_e(c.group)}</td>"
            f"<td class='g'>{_e(c.reference)}</td><td>{c.events} / {c.cases}</td>"
            f"<td>{c.ref_events} / {c.ref_cases}</td><td>{_ratio(c.ratio)} [{_ratio(c.ratio_lower)}, "
            f"{_ratio(c.ratio_upper)}]</td><td>{_num(c.p_disparity, 4)}</td>"
            f"<td>≥ {_ratio(c.detectable_above)} or ≤ {_ratio(c.detectable_below)}</td>"
            f"<td class='g {VERDICT_CSS[c.verdict]}'>{_e(c.verdict)}</td></tr>"
        )
    out.append("</table></details>")
    return out


def _group_tables(tables: Iterable[GroupTable]) -> list[str]:
    out = []
    heads = (
        "".join(f"<th>{_e(METRIC_NAMES[m])}</th>" for m in ERROR_METRICS)
        + "".join(f"<th>{_e(METRIC_NAMES[m])}</th>" for m in POPULATION_METRICS)
        + "".join(f"<th>{_e(METRIC_NAMES[m])}</th>" for m in OTHER_METRICS)
    )
    for t in tables:
        out.append(
            f"<table><caption>{_e(t.attribute)}, {_e(t.outcome)} (reference {_e(t.reference)})</caption>"
            f"<tr><th class='g'>Group</th><th>People</th><th>Victims</th><th>Non-victims</th>{heads}</tr>"
        )
        for g in t.groups:
            cells = (
                "".join(f"<td>{_est(g.errors[m])}</td>" for m in ERROR_METRICS)
                + "".join(f"<td>{_est(g.population[m])}</td>" for m in POPULATION_METRICS)
                + "".join(f"<td>{_est(g.other[m])}</td>" for m in OTHER_METRICS)
            )
            out.append(
                f"<tr><td class='g'>{_e(g.group)}</td><td>{g.people}</td><td>{g.victims}</td>"
                f"<td>{g.non_victims}</td>{cells}</tr>"
            )
        out.append("</table>")
    return out


def _section(section: LabelAudit) -> list[str]:
    name = SECTION_NAMES[section.section]
    out = [f"<h3>Verdicts on {_e(name)}</h3>"]
    for metric in ERROR_METRICS:
        out += _comparison_table(
            (c for c in section.comparisons if c.metric == metric),
            title=f"{METRIC_NAMES[metric]}, {name}",
            what="Events / cases",
        )
    out.append(
        f"<details><summary>All rates by group, {_e(name)}: errors, then the population "
        "(no verdicts), then other metrics</summary>"
    )
    out += _group_tables(section.tables)
    out.append("</details>")
    return out


def _identification(ident: IdentificationAudit) -> list[str]:
    out = [
        "<h2>Are some groups' victims less often identified? (identification bias)</h2>",
        "<p>Observed labels come from who was identified, not from who was exploited. On synthetic "
        "data the true state is known: the identification rate is the share of a group's true victims "
        "that carry a label.</p>",
    ]
    out += _comparison_table(ident.comparisons, title="Identification rate by group", what="Labelled / true victims")
    out.append("<details><summary>Identification rates by group</summary>")
    for t in ident.tables:
        out.append(
            f"<table><caption>{_e(t.attribute)}, {_e(t.outcome)} (reference {_e(t.reference)})</caption>"
            "<tr><th class='g'>Group</th><th>People</th><th>True victims</th><th>Labelled</th>"
            "<th>Observed prevalence</th><th>True prevalence</th><th>Identification rate [95%]</th></tr>"
        )
        out += [
            f"<tr><td class='g'>{_e(g.group)}</td><td>{g.people}</td><td>{g.true_victims}</td>"
            f"<td>{g.labelled}</td><td>{_num(g.observed_prevalence)}</td><td>{_num(g.true_prevalence)}</td>"
            f"<td>{_est(g.rate)}</td></tr>"
            for g in t.groups
        ]
        out.append("</table>")
    out.append("</details>")
    return out


def _model_report(audit: ModelAudit, figures: dict[str, str]) -> list[str]:
    s = audit.settings
    m = audit.model
    who = f"{m.get('name', 'model')} version {m.get('version', '?')}" if m.get("version") else "the model"
    thresholds = ", ".join(f"{o} {t:.4f}" for o, t in audit.thresholds.items())
    parts = [
        "<h1>Fairness audit of a screening model</h1>",
        f"<p>{_e(who)}, on {audit.rows:,} screened people ({_e(audit.data or 'data not described')}); "
        f"generated {_e(audit.generated_at)}. Referral thresholds: {_e(thresholds)}.</p>",
    ]
    parts += _answer(audit)
    parts += [
        "<h2>Miss rate and false-alarm rate by group</h2>",
        f"<p class='note'>{_e(CRITERIA)} Each panel shows a group's rate on observed labels with its 95% "
        f"bootstrap interval; the diamond and green line are the reference group, the shaded band is the "
        f"tolerance ({s.tolerance[0]}–{s.tolerance[1]} times the reference). Red: disparity; green: shown "
        f"within tolerance; dark grey: cannot tell; hollow: too few cases for a verdict.</p>",
    ]
    for attribute, svg in figures.items():
        parts.append(f"<h3>By {_e(attribute)}</h3>{svg}")
    parts += ["<h2>Tables</h2>", f"<p class='note'>{_e(CORRECTION)}</p>"]
    parts += _section(audit.observed)
    if audit.truth is not None:
        parts += _section(audit.truth)
    if audit.identification is not None:
        parts += _identification(audit.identification)
    return parts


# ---------------------------------------------------------------------------- field review
def _rows_table(rows: list[dict[str, Any]], caption: str = "") -> str:
    if not rows:
        return "<p>None.</p>"
    keys = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{_e(k.replace('_', ' '))}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td class='g'>{_num(r.get(k))}</td>" for k in keys) + "</tr>" for r in rows)
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    return f"<table>{cap}<tr>{head}</tr>{body}</table>"


def _field_review(review: FieldReview) -> list[str]:
    parts = [
        f"<h1>{_e(FIELD_REVIEW_TITLE)}</h1>",
        f"<p>{review.screenings:,} screenings from {_e(review.period[0])} to "
        f"{_e(review.period[1])}, from the serving audit log.</p>",
        "<h2>The answer</h2>",
        f"<div class='answer'><p>{_e(review.selective_labels.text)}</p>",
        f"<p>{_e(review.follow_up.text)}</p></div>",
        "<h2>Overall</h2>",
        _rows_table([review.overall.to_json()]),
        "<h2>Overrides by reason</h2>",
        _rows_table([{"reason": k, "overrides": v} for k, v in review.override_reasons.items()]),
    ]
    for attribute, rows in review.by_group.items():
        parts.append(f"<h2>By {_e(attribute)}</h2>")
        parts.append(_rows_table([g.to_json() for g in rows]))
        reasons = review.overrides_by_group.get(attribute, ())
        if reasons:
            parts.append(_rows_table([r.to_json() for r in reasons], caption=f"Overrides by reason and {attribute}"))
    if review.drift is not None and (review.drift.fields or review.drift.scores):
        parts.append("<h2>Drift against the training data (PSI)</h2>")
        parts.append(_rows_table([s.to_json() for s in review.drift.scores], caption="Scores"))
        parts.append(_rows_table([s.to_json() for s in review.drift.fields], caption="Fields"))
    return parts


def render_html(report: ModelAudit | FieldReview, figures: dict[str, str] | None = None) -> str:
    """A fairness audit or a field review as one self-contained HTML page."""
    title = "Tarozu fairness audit" if isinstance(report, ModelAudit) else f"Tarozu: {FIELD_REVIEW_TITLE.lower()}"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
    ]
    if isinstance(report, ModelAudit):
        parts += _model_report(report, forest_figures(report) if figures is None else figures)
    else:
        parts += _field_review(report)
    parts.append("</body></html>")
    return "".join(parts)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def report_json(report: ModelAudit | FieldReview) -> str:
    """``report.json``: the report's :meth:`to_json` form, NaN and infinity written as ``null``."""
    return json.dumps(_jsonable(report.to_json()), indent=1, allow_nan=False, default=str)


def write_report(report: ModelAudit | FieldReview, directory: str | Path) -> tuple[Path, Path]:
    """Write ``report.html``, ``report.json`` (NaN as null) and, for a model, ``figures/*.svg``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out / "report.html", out / "report.json"
    figures = None
    if isinstance(report, ModelAudit):
        figures = forest_figures(report)
        (out / "figures").mkdir(exist_ok=True)
        for attribute, svg in figures.items():
            name = "".join(ch if ch.isalnum() else "_" for ch in attribute)
            (out / "figures" / f"{name}.svg").write_text(svg, encoding="utf-8")
    html_path.write_text(render_html(report, figures), encoding="utf-8")
    json_path.write_text(report_json(report), encoding="utf-8")
    return html_path, json_path
