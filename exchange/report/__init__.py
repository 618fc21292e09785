"""Reports: matplotlib figures and a self-contained HTML page (images embedded as base64).

- :func:`write_run_report` — one run: parameters, metrics, figures (index/mark/last, open
  interest, liquidations over time, insurance fund and bad debt, backstop vault, haircuts) and
  the realism section (:mod:`exchange.report.facts`: the stylized facts of the run).
- :func:`write_compare_report` — a comparison of waterfalls: the table of metrics (mean ± sd
  over seeds) and the same figures with the designs side by side (first seed).

The page has no external resources: it opens from disk, from a mail attachment, anywhere.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

__all__ = ["write_run_report", "write_compare_report", "render_run_html", "render_compare_html",
           "format_value", "write_facts_report"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1180px;
color:#222;line-height:1.4}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.sub{color:#666;font-size:13px} table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right} th{background:#f4f4f4}
td.k,th.k{text-align:left} .fig{margin:10px 0} img{max-width:100%}
.grid{display:grid;grid-template-columns:1fr;gap:6px} .note{font-size:12px;color:#555}
"""


def format_value(v: Any) -> str:
    """A metric for a table: thousands separators, 4 significant decimals for fractions;
    ``None`` (not applicable: no haircut to judge, no ADL round, never re-pegged) is "n/a",
    never 0.

    >>> format_value(None), format_value(1234.5), format_value(0.25)
    ('n/a', '1,234', '0.25')
    """
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v != v:
            return "n/a"
        a = abs(v)
        if a >= 1000:
            return f"{v:,.0f}"
        if a >= 10:
            return f"{v:,.1f}"
        if a == 0:
            return "0"
        return f"{v:.4g}"
    return html.escape(str(v))


def _img(name: str, png: bytes) -> str:
    b64 = base64.b64encode(png).decode("ascii")
    return f'<div class="fig"><img alt="{html.escape(name)}" src="data:image/png;base64,{b64}"></div>'


def _page(title: str, body: str) -> str:
    stamp = "perpsim report"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{body}<p class='note'>{stamp}</p></body></html>")


def _params_table(rows: list[tuple[str, Any]]) -> str:
    out = ["<table>"]
    for k, v in rows:
        out.append(f"<tr><td class='k'>{html.escape(str(k))}</td><td class='k'>{html.escape(str(v))}</td></tr>")
    out.append("</table>")
    return "".join(out)


def render_run_html(result) -> str:
    """The HTML page of one :class:`~exchange.sim.runner.RunResult`."""
    from exchange.report.figures import all_figures
    from exchange.sim.metrics import METRICS

    info = result.info
    figs = all_figures([(result.label, result.plot)])
    head = (f"<h1>{html.escape(result.scenario)} · seed {result.seed}</h1>"
            f"<div class='sub'>{html.escape(str(info.get('description', '')))}</div>")
    params = _params_table([
        ("venue preset", info.get("preset")), ("symbol", info.get("symbol")),
        ("waterfall", " → ".join(result.waterfall)),
        ("simulated time", f"{result.sim_s:,.0f} s"), ("agents", f"{info.get('agents', 0):,}"),
        ("events", f"{result.events:,}"), ("wall time", f"{result.wall_s:.2f} s"),
        ("shocks", "; ".join(f"{s['type']} at {s['at_ns'] / 1e9:g} s" for s in info.get("shocks", []))
         or "none"),
    ])
    rows = ["<table><tr><th class='k'>metric</th><th>value</th><th class='k'>meaning</th></tr>"]
    for key, desc in METRICS.items():
        rows.append(f"<tr><td class='k'>{key}</td><td>{format_value(result.metrics.get(key))}</td>"
                    f"<td class='k'>{html.escape(desc)}</td></tr>")
    rows.append("</table>")
    body = (head + "<h2>Run</h2>" + params + "<h2>Metrics</h2>" + "".join(rows)
            + "<h2>Figures</h2><div class='grid'>"
            + "".join(_img(n, p) for n, p in figs.items()) + "</div>")
    if result.journal is not None and result.series:
        from exchange.report.facts import render_facts_html
        from exchange.sim.facts import facts_from_result

        body += render_facts_html([(result.label, facts_from_result(result))])
    return _page(f"perpsim · {result.scenario}", body)


def write_run_report(result, path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_run_html(result), encoding="utf-8")
    return p


def render_compare_html(comparison) -> str:
    """The HTML page of a :class:`~exchange.sim.compare.Comparison`."""
    from exchange.report.figures import all_figures
    from exchange.sim.metrics import METRICS

    labels = comparison.labels
    head = (f"<h1>{html.escape(comparison.scenario)} · {len(labels)} liquidation designs</h1>"
            f"<div class='sub'>{html.escape(comparison.description)}</div>")
    params = _params_table([
        ("designs (waterfalls)", " | ".join(" → ".join(lbl.split(",")) for lbl in labels)),
        ("seeds", ", ".join(str(s) for s in comparison.seeds)),
        ("runs", len(labels) * len(comparison.seeds)),
        ("wall time", f"{comparison.wall_s:.1f} s"),
    ])
    stats = comparison.stats()
    rows = ["<table><tr><th class='k'>metric</th>"]
    rows += [f"<th>{html.escape(' → '.join(lbl.split(',')))}</th>" for lbl in labels]
    rows.append("<th class='k'>meaning</th></tr>")
    for key, desc in METRICS.items():
        rows.append(f"<tr><td class='k'>{key}</td>")
        for lbl in labels:
            mean, sd = stats[lbl].get(key, (None, None))
            cell = format_value(mean)
            if sd and len(comparison.seeds) > 1:
                cell += f" <span class='note'>± {format_value(sd)}</span>"
            rows.append(f"<td>{cell}</td>")
        rows.append(f"<td class='k'>{html.escape(desc)}</td></tr>")
    rows.append("</table><p class='note'>mean ± standard deviation over seeds</p>")
    first = comparison.first_seed_runs()
    figs = all_figures([(lbl, r.plot) for lbl, r in first])
    body = (head + "<h2>Comparison</h2>" + params + "<h2>Metrics</h2>" + "".join(rows)
            + f"<h2>Figures (seed {comparison.seeds[0]})</h2><div class='grid'>"
            + "".join(_img(n, p) for n, p in figs.items()) + "</div>")
    return _page(f"perpsim · compare · {comparison.scenario}", body)


def write_compare_report(comparison, path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_compare_html(comparison), encoding="utf-8")
    return p


def write_facts_report(runs, path, title: str = "stylized facts") -> Path:
    """A page with the realism section of one or more runs (``(label, Facts)`` pairs)."""
    from exchange.report.facts import render_facts_html

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    head = f"<h1>perpsim · {html.escape(title)}</h1>"
    p.write_text(_page(f"perpsim · {title}", head + render_facts_html(runs)), encoding="utf-8")
    return p
