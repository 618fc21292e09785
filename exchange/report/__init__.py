"""Reports: matplotlib figures and a self-contained HTML page (images embedded as base64).

- :func:`write_run_report` — one run: parameters, metrics, figures (index/mark/last, open
  interest, liquidations over time, insurance fund and bad debt, backstop vault, haircuts) and
  the realism section (:mod:`exchange.report.facts`: the stylized facts of the run).
- :func:`write_compare_report` — a comparison of waterfalls: the setup (preset, shocks,
  populations, seeds), a verdict table (units, best and worst design per metric), notes from
  the data, who absorbed the liquidations, the cascade timeline, the liquidation episodes,
  figures over all seeds (:mod:`exchange.report.compare_figures`), the strategy's results.

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
td.k,th.k{text-align:left} .fig{margin:10px 0} img{width:100%;height:auto}
td.best{background:#e3f4e3} td.worst{background:#fbe4e4} .tag{font-size:11px;color:#555}
ul.notes{font-size:13px;color:#333} details{margin:8px 0} summary{cursor:pointer;font-size:13px}
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
    from exchange.catalogue import METRICS

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
    if (result.journal is not None or getattr(result, "facts_fold", None) is not None) \
            and result.series:
        from exchange.report.facts import render_facts_html

        body += render_facts_html([(result.label, result.facts())])
    return _page(f"perpsim · {result.scenario}", body)


def write_run_report(result, path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_run_html(result), encoding="utf-8")
    return p


#: the verdict table: metric → (unit, direction: -1 lower is better, +1 higher is better,
#: 0 not ranked); "$" is the settlement asset
VERDICT: dict[str, tuple[str, int]] = {
    "liquidations": ("episodes", -1), "liquidation_notional": ("$", -1),
    "bad_debt": ("$", -1), "insurance_paid": ("$", 0), "insurance_end": ("$", 1),
    "insurance_drawdown": ("$", -1), "backstop_pnl": ("$", 1), "adl_haircut": ("$", -1),
    "socialized_total": ("$", -1), "haircut_plus_bad_debt": ("$", -1),
    "adl_winners_hit": ("accounts", -1), "winners_hit_share": ("fraction of winners", -1),
    "haircut_gini": ("0 = proportional", -1), "perp_drawdown": ("fraction", -1),
    "amplification": ("perp / index drawdown", -1), "cascade_depth": ("oracle ticks", -1),
    "repeg_s": ("s", -1), "liquidation_triggers": ("triggers", -1),
    "orders": ("orders", 0),
}


def _verdict_table(comparison, stats, asset: str) -> str:
    from exchange.catalogue import METRICS

    labels = comparison.labels
    multi = len(comparison.seeds) > 1
    rows = ["<table class='verdict'><tr><th class='k'>metric</th><th class='k'>unit</th>"]
    rows += [f"<th>{html.escape(' → '.join(lbl.split(',')))}</th>" for lbl in labels]
    rows.append("<th class='k'>meaning</th></tr>")
    for key, (unit, direction) in VERDICT.items():
        means = {lbl: stats[lbl].get(key, (None, None))[0] for lbl in labels}
        ranked = {lbl: v for lbl, v in means.items() if v is not None}
        best = worst = None
        if direction and len(ranked) > 1 and len(set(ranked.values())) > 1:
            pick = min if direction < 0 else max
            other = max if direction < 0 else min
            best = pick(ranked.values())
            worst = other(ranked.values())
        rows.append(f"<tr><td class='k'>{key}</td><td class='k'>{html.escape(unit.replace('$', asset))}</td>")
        for lbl in labels:
            mean, sd = stats[lbl].get(key, (None, None))
            cell = format_value(mean)
            if sd and multi:
                cell += f" <span class='note'>± {format_value(sd)}</span>"
            cls, tag = "", ""
            if mean is not None and best is not None and mean == best:
                cls, tag = " class='best'", " ▲ best"
            elif mean is not None and worst is not None and mean == worst:
                cls, tag = " class='worst'", " ▼ worst"
            rows.append(f"<td{cls}>{cell}<span class='tag'>{tag}</span></td>")
        rows.append(f"<td class='k'>{html.escape(METRICS.get(key, ''))}</td></tr>")
    rows.append("</table><p class='note'>mean ± standard deviation over seeds; ▲ best and ▼ "
                "worst design per ranked metric (lower is better except insurance_end and "
                "backstop_pnl); n/a is never ranked.</p>")
    return "".join(rows)


def _levs(v) -> str:
    """``(3, 5, 10)`` → "3/5/10x"; ``10`` → "10x"."""
    vals = v if isinstance(v, (list, tuple)) else [v]
    return "/".join(f"{x:g}" if isinstance(x, (int, float)) else str(x) for x in vals) + "x"


def _header(comparison) -> str:
    r0 = comparison.results[comparison.labels[0]][0]
    info = r0.info
    from exchange.report.compare_figures import shock_label

    shocks = "; ".join(f"{shock_label(s)} at {s['at_ns'] / 1e9:g} s"
                       + (f" for {s['duration_ns'] / 1e9:g} s" if s.get("duration_ns") else "")
                       for s in info.get("shocks", [])) or "none"
    pops = "; ".join(
        f"{p['name']} ({p['type']}) × {p['count']:,}"
        + (f", leverage {_levs(p['leverage'])}" if p.get("leverage") is not None else "")
        for p in getattr(comparison, "populations", []) or []) or \
        "; ".join(f"{k} × {v.get('accounts', 0):,}" for k, v in (r0.agents or {}).items())
    fund = info.get("insurance_initial_atoms")
    unit = 10.0 ** -int(info.get("settle_decimals", 6))
    return _params_table([
        ("venue preset", f"{info.get('preset')} · {info.get('symbol')}"),
        ("simulated time", f"{r0.sim_s:,.0f} s"),
        ("shocks", shocks),
        ("populations", pops),
        ("insurance fund at the start", "n/a" if fund is None else
         f"{fund * unit:,.0f} {info.get('settle_asset', '')}"),
        ("designs (waterfalls)", " | ".join(" → ".join(lbl.split(",")) for lbl in comparison.labels)),
        ("seeds", ", ".join(str(s) for s in comparison.seeds)),
        ("runs", f"{len(comparison.labels) * len(comparison.seeds)} in {comparison.wall_s:.1f} s"),
    ])


def _episodes_section(comparison, asset: str) -> str:
    """By population over all seeds (mean per seed), and the largest episodes of the first
    seed, per design."""
    have = any(r.plot.get("episodes") is not None for lbl in comparison.labels
               for r in comparison.results[lbl])
    if not have:
        return ("<p class='note'>liquidation episodes are recorded when the comparison writes "
                "its report (compare(..., out_dir=...)).</p>")
    n = len(comparison.seeds)
    out = ["<table><tr><th class='k'>design</th><th class='k'>population</th><th>episodes per "
           f"seed</th><th>notional per seed ({html.escape(asset)})</th><th>mean leverage</th>"
           "<th class='k'>closed by (share of episodes)</th></tr>"]
    for lbl in comparison.labels:
        groups: dict[str, list] = {}
        for r in comparison.results[lbl]:
            for e in r.plot.get("episodes") or []:
                groups.setdefault(e["population"] or "?", []).append(e)
        for pop, eps in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            by: dict[str, int] = {}
            for e in eps:
                by[e["closed_by"]] = by.get(e["closed_by"], 0) + 1
            levs = [e["leverage"] for e in eps if e["leverage"]]
            closed = ", ".join(f"{k} {v / len(eps):.0%}" for k, v in
                               sorted(by.items(), key=lambda kv: -kv[1])[:4])
            out.append(f"<tr><td class='k'>{html.escape(' → '.join(lbl.split(',')))}</td>"
                       f"<td class='k'>{html.escape(pop)}</td><td>{len(eps) / n:,.1f}</td>"
                       f"<td>{format_value(sum(e['notional'] for e in eps) / n)}</td>"
                       f"<td>{format_value(sum(levs) / len(levs) if levs else None)}</td>"
                       f"<td class='k'>{html.escape(closed)}</td></tr>")
    out.append("</table>")
    for lbl in comparison.labels:
        eps = comparison.results[lbl][0].plot.get("episodes") or []
        top = sorted(eps, key=lambda e: -e["notional"])[:10]
        out.append(f"<details><summary>{html.escape(' → '.join(lbl.split(',')))}: the "
                   f"{len(top)} largest of {len(eps)} episodes (seed {comparison.seeds[0]})"
                   "</summary><table><tr><th>t (s)</th><th>account</th><th class='k'>population"
                   "</th><th>leverage</th><th class='k'>side</th><th>size</th>"
                   f"<th>notional ({html.escape(asset)})</th><th>mark at trigger</th>"
                   "<th class='k'>closed by</th><th>close price</th><th class='k'>closed</th></tr>")
        for e in top:
            out.append(f"<tr><td>{e['t_s']:,.1f}</td><td>{e['account']}</td>"
                       f"<td class='k'>{html.escape(str(e['population']))}</td>"
                       f"<td>{format_value(e['leverage'])}</td><td class='k'>{e['side']}</td>"
                       f"<td>{e['size']:,.3f}</td><td>{format_value(e['notional'])}</td>"
                       f"<td>{e['mark']:,.1f}</td><td class='k'>{html.escape(e['closed_by'])}</td>"
                       f"<td>{_price(e['close_price'])}</td>"
                       f"<td class='k'>{'yes' if e['closed'] else 'no'}</td></tr>")
        out.append("</table></details>")
    return "".join(out)


def _price(v) -> str:
    return "—" if v is None else f"{v:,.1f}"


def _strategy_section(comparison) -> str:
    """PnL (mean ± sd over seeds), liquidations suffered, and equity and position over time
    in each design, for every strategy population that ran."""
    from exchange.report.compare_figures import strategy_figures
    from exchange.catalogue import PNL_FIELDS

    names = sorted({n for lbl in comparison.labels for r in comparison.results[lbl]
                    for n in (r.strategies or {})})
    if not names:
        return ""
    import statistics

    figs = strategy_figures(comparison)
    out = ["<h2>Your strategy in each design</h2>"]
    for name in names:
        cls = next(r.strategies[name]["class"] for lbl in comparison.labels
                   for r in comparison.results[lbl] if name in (r.strategies or {}))
        out.append(f"<p class='sub'>{html.escape(cls)} (population {html.escape(name)!s}); "
                   "mean ± sd over seeds, money in the settlement asset</p>")
        out.append("<table><tr><th class='k'>measure</th>" + "".join(
            f"<th>{html.escape(' → '.join(lbl.split(',')))}</th>" for lbl in comparison.labels)
            + "<th class='k'>meaning</th></tr>")
        for key, meaning in PNL_FIELDS.items():
            if key == "accounts":
                continue
            out.append(f"<tr><td class='k'>{key}</td>")
            for lbl in comparison.labels:
                vals = [float(r.strategies[name][key]) for r in comparison.results[lbl]
                        if name in (r.strategies or {}) and r.strategies[name].get(key) is not None]
                cell = format_value(statistics.fmean(vals)) if vals else "n/a"
                if len(vals) > 1:
                    cell += f" <span class='note'>± {format_value(statistics.stdev(vals))}</span>"
                out.append(f"<td>{cell}</td>")
            out.append(f"<td class='k'>{html.escape(meaning)}</td></tr>")
        out.append("</table>")
        for key, png in figs.get(name, {}).items():
            out.append(_img(f"strategy_{name}_{key}", png))
    return "".join(out)


def render_compare_html(comparison) -> str:
    """The HTML page of a :class:`~exchange.sim.compare.Comparison`: header (preset, shocks,
    populations, seeds), verdict table with units and the best / worst design per metric,
    notes from the data, loss absorption, cascade timeline, liquidation episodes, figures
    over all seeds, the strategy's results, and every metric."""
    from exchange.report.compare_figures import compare_figures
    from exchange.report.notes import design_notes
    from exchange.catalogue import METRICS

    labels = comparison.labels
    asset = comparison.results[labels[0]][0].info.get("settle_asset", "")
    head = (f"<h1>{html.escape(comparison.scenario)} · {len(labels)} liquidation designs · "
            f"{len(comparison.seeds)} seed{'s' if len(comparison.seeds) > 1 else ''}</h1>"
            f"<div class='sub'>{html.escape(comparison.description)}</div>")
    stats = comparison.stats()
    figs = compare_figures(comparison)
    notes = design_notes(comparison)
    body = [head, "<h2>Setup</h2>", _header(comparison), "<h2>Verdict</h2>",
            _verdict_table(comparison, stats, asset)]
    if notes:
        body.append("<ul class='notes'>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes)
                    + "</ul>")
    body.append("<h2>Who absorbed the liquidations</h2>")
    body.append(_img("loss_absorption", figs.pop("loss_absorption")))
    body.append("<h2>Cascade timeline</h2>")
    body.append(_img("cascade", figs.pop("cascade")))
    body.append("<h2>Liquidation episodes</h2>")
    body.append(_episodes_section(comparison, asset))
    body.append("<h2>Over time (all seeds)</h2>")
    body += [_img(n, p) for n, p in figs.items()]
    body.append(_strategy_section(comparison))
    rows = ["<details><summary>every metric</summary><table><tr><th class='k'>metric</th>"]
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
    rows.append("</table></details>")
    body.append("<h2>Every metric</h2>" + "".join(rows))
    return _page(f"perpsim · compare · {comparison.scenario}", "".join(body))


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
