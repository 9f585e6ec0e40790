"""Self-contained HTML (and JSON) reports of a fairness audit, for reviewers.

No external scripts, styles or fonts: charts are inline SVG, styles are inline and a
``@media print`` block makes the page printable. Every group of every attribute appears.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from pipeline.fairness.audit import DISPARITY, INSUFFICIENT, PRIMARY, SECONDARY

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:70rem;
padding:0 1rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:2px solid #ccc;margin-top:2rem}
h3{font-size:1.1rem;margin-top:1.5rem}table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.2rem .4rem;text-align:right}th{background:#f0f0f0}
td.g,th.g{text-align:left}.disparity{background:#fdd;font-weight:bold}.insufficient{color:#777}
.ok{background:#dfd}.note{background:#f7f7e8;border-left:4px solid #cc9;padding:.5rem 1rem}
svg{display:block;margin:.5rem 0}
@media print{body{max-width:none;margin:0;font-size:10pt}h2{page-break-before:auto}
table,svg{page-break-inside:avoid}}
"""
METRIC_NAMES = {
    "prevalence": "Share labelled as victims",
    "selection_rate": "Share the model would refer",
    "sensitivity": "Victims found (sensitivity)",
    "fnr": "Victims missed (false negative rate)",
    "fpr": "Non-victims flagged (false positive rate)",
    "ppv": "Flagged who are victims (PPV)",
    "auroc": "Ranking quality (AUROC)",
    "ece": "Calibration error (ECE)",
}


def _e(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return _e(value)


def _css(verdict: str) -> str:
    return {DISPARITY: "disparity", INSUFFICIENT: "insufficient"}.get(verdict, "ok")


def bar_chart(*, title: str, items: list[tuple[str, float, float, float]], width: int = 640) -> str:
    """A horizontal bar chart with interval whiskers as inline SVG; items are (label, value, lower, upper)."""
    row, left = 18, 190
    height = row * len(items) + 30
    finite = [v for item in items for v in item[1:] if isinstance(v, float) and math.isfinite(v)]
    top = max([*finite, 1e-9])
    scale = (width - left - 20) / top
    parts = [
        f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11">',
        f'<text x="0" y="12" font-weight="bold">{_e(title)}</text>',
    ]
    for i, (label, value, lower, upper) in enumerate(items):
        y = 22 + i * row
        parts.append(f'<text x="0" y="{y + 11}">{_e(label)[:30]}</text>')
        if math.isfinite(value):
            parts.append(
                f'<rect x="{left}" y="{y + 2}" width="{value * scale:.1f}" height="{row - 6}" fill="#6a8fbf"/>'
            )
            parts.append(f'<text x="{left + value * scale + 4:.1f}" y="{y + 11}">{value:.3f}</text>')
        if math.isfinite(lower) and math.isfinite(upper):
            parts.append(
                f'<line x1="{left + lower * scale:.1f}" x2="{left + upper * scale:.1f}" y1="{y + 8}" '
                f'y2="{y + 8}" stroke="#222" stroke-width="1.5"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _metric_tables(section: dict[str, Any], metrics: list[str]) -> list[str]:
    out: list[str] = []
    for attribute, entry in section["attributes"].items():
        out.append(f"<h3>By {_e(attribute)} (reference group: {_e(entry['reference'])})</h3>")
        for outcome, rows in entry["outcomes"].items():
            if PRIMARY in metrics:
                out.append(
                    bar_chart(
                        title=f"{outcome}: victims missed (FNR) with 95% intervals",
                        items=[
                            (
                                r["group"],
                                r["metrics"][PRIMARY]["value"],
                                r["metrics"][PRIMARY]["lower"],
                                r["metrics"][PRIMARY]["upper"],
                            )
                            for r in rows
                        ],
                    )
                )
            head = "".join(f"<th>{_e(METRIC_NAMES[m])}</th>" for m in metrics)
            verdict_head = "".join(
                f"<th>{_e(m.upper())} vs reference</th>" for m in metrics if m in (PRIMARY, SECONDARY)
            )
            out.append(
                f"<table><caption>{_e(outcome)}</caption><tr><th class='g'>Group</th><th>People</th>"
                f"<th>Victims</th>{head}{verdict_head}</tr>"
            )
            for r in rows:
                cells = "".join(
                    f"<td>{_num(r['metrics'][m]['value'])}<br><small>[{_num(r['metrics'][m]['lower'])}, "
                    f"{_num(r['metrics'][m]['upper'])}]</small></td>"
                    for m in metrics
                )
                verdicts = ""
                for m in (PRIMARY, SECONDARY):
                    if m not in metrics:
                        continue
                    c = r["comparisons"].get(m)
                    if c is None:
                        verdicts += "<td>reference</td>"
                    else:
                        verdicts += (
                            f"<td class='{_css(c['verdict'])}'>{_e(c['verdict'])}<br><small>ratio "
                            f"{_num(c['ratio'], 2)} [{_num(c['ratio_lower'], 2)}, "
                            f"{_num(c['ratio_upper'], 2)}]</small></td>"
                        )
                out.append(
                    f"<tr><td class='g'>{_e(r['group'])}</td><td>{r['size']}</td><td>{r['positives']}</td>"
                    f"{cells}{verdicts}</tr>"
                )
            out.append("</table>")
    return out


def _identification(section: dict[str, Any]) -> list[str]:
    out = [
        "<h2>Are some groups' victims less often identified? (identification bias)</h2>",
        "<p>Observed labels come from who was identified, not from who was exploited. On synthetic "
        "data the true state is known: the identification rate is observed / true prevalence.</p>",
    ]
    flags = section["flags"]
    if flags:
        out.append("<div class='note'><p>Groups whose victims are under-identified:</p><ul>")
        out.extend(
            f"<li>{_e(f['attribute'])} = {_e(f['group'])} ({_e(f['outcome'])}): identified "
            f"{f['ratio']:.2f}x as often as {_e(f['relative_to'])}</li>"
            for f in flags
        )
        out.append("</ul></div>")
    else:
        out.append("<p class='note'>No group is flagged as under-identified.</p>")
    out.append(f"<p>Comparisons made: {section['n_comparisons']} (Bonferroni-corrected).</p>")
    for attribute, entry in section["attributes"].items():
        for outcome, rows in entry["outcomes"].items():
            out.append(
                f"<table><caption>{_e(attribute)}, {_e(outcome)} (reference {_e(entry['reference'])})"
                "</caption><tr><th class='g'>Group</th><th>People</th><th>Observed prevalence</th>"
                "<th>True prevalence</th><th>Identification rate [95%]</th><th>vs reference</th></tr>"
            )
            for r in rows:
                rel = r["relative_to_reference"]
                verdict = "reference" if not rel else f"{rel['verdict']} (ratio {_num(rel['ratio'], 2)})"
                css = _css(rel["verdict"]) if rel else ""
                out.append(
                    f"<tr><td class='g'>{_e(r['group'])}</td><td>{r['size']}</td>"
                    f"<td>{_num(r['observed_prevalence'])}</td><td>{_num(r['true_prevalence'])}</td>"
                    f"<td>{_num(r['identification_rate'])} [{_num(r['identification_rate_lower'])}, "
                    f"{_num(r['identification_rate_upper'])}]</td><td class='{css}'>{_e(verdict)}</td></tr>"
                )
            out.append("</table>")
    return out


def _generic(value: Any, depth: int = 0) -> str:
    """A nested dict/list rendered as headed tables (used for the screening-log audit)."""
    if isinstance(value, dict):
        if value and all(not isinstance(v, dict | list) for v in value.values()):
            cells = "".join(f"<tr><th class='g'>{_e(k)}</th><td>{_num(v)}</td></tr>" for k, v in value.items())
            return f"<table>{cells}</table>"
        tag = f"h{min(3 + depth, 6)}"
        return "".join(f"<{tag}>{_e(k)}</{tag}>{_generic(v, depth + 1)}" for k, v in value.items())
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            keys = list(dict.fromkeys(k for v in value for k in v))
            head = "".join(f"<th>{_e(k)}</th>" for k in keys)
            body = "".join("<tr>" + "".join(f"<td>{_num(v.get(k))}</td>" for k in keys) + "</tr>" for v in value)
            return f"<table><tr>{head}</tr>{body}</table>"
        return f"<p>{_e(', '.join(map(str, value)))}</p>"
    return f"<p>{_num(value)}</p>"


def render_html(audit: dict[str, Any]) -> str:
    """The audit as one self-contained HTML page."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>Tarozu fairness audit</title><style>{STYLE}</style></head><body>",
    ]
    if audit.get("kind") == "model":
        settings = audit["settings"]
        parts += [
            "<h1>Tarozu fairness audit of a screening model</h1>",
            f"<p>Generated {_e(audit['generated_at'])} on {audit['rows']} screened people. Model: "
            f"{_e(audit['model'])}. Operating thresholds: {_e(audit['thresholds'])}.</p>",
            f"<div class='note'><p>{_e(audit['criteria'])}</p><p>{_e(audit['correction'])}</p>"
            f"<p>A group is compared with its reference group; tolerance for the ratio: "
            f"{settings['tolerance'][0]}–{settings['tolerance'][1]}. Groups with fewer than "
            f"{settings['min_group_size']} people get <em>insufficient data</em>, never a verdict.</p></div>",
            "<h2>Summary: disparities found</h2>",
        ]
        disparities = audit["observed"]["disparities"]
        parts.append(_generic(disparities) if disparities else "<p>No disparity beyond tolerance was found.</p>")
        parts.append(f"<p>Comparisons per metric: {_e(audit['observed']['n_comparisons'])}</p>")
        parts.append("<h2>How the model performs for each group (observed labels)</h2>")
        parts += _metric_tables(audit["observed"], settings["metrics"])
        if audit.get("truth"):
            parts.append("<h2>How the model performs for each group against the true state (synthetic data)</h2>")
            parts += _metric_tables(audit["truth"], settings["metrics"])
        if audit.get("identification_bias"):
            parts += _identification(audit["identification_bias"])
    else:
        parts += [
            "<h1>Tarozu audit of what was screened</h1>",
            "<p>Scores, recommendations and decisions by group, from the serving audit log "
            "(no outcome labels are used).</p>",
            _generic(audit),
        ]
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


def write_report(audit: dict[str, Any], directory: str | Path) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.json`` (NaN as null) into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out / "report.html", out / "report.json"
    html_path.write_text(render_html(audit), encoding="utf-8")
    json_path.write_text(json.dumps(_jsonable(audit), indent=1, allow_nan=False, default=str), encoding="utf-8")
    return html_path, json_path
