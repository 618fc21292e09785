"""The comparison report answers the question (issue 15): setup, verdict with units and the
best / worst design marked, notes from the data, loss absorption, cascade timeline, episodes,
figures over all seeds; checked in the HTML and, where Chromium is installed, rendered headless."""
import base64
import re
import shutil
import subprocess

import pytest

from exchange.sim.compare import compare

SMALL = {"scenario.duration_s": 130, "population.makers.count": 4, "population.noise.count": 30,
         "population.directional.count": 100, "population.directional.warmup_s": 30,
         "population.arbitrageur.count": 2, "population.keeper.count": 2, "shock.0.at_s": 98,
         "shock.0.duration_s": 30, "shock.1.at_s": 100, "shock.1.duration_s": 10,
         "shock.1.steps": 10, "shock.2.at_s": 115, "shock.2.duration_s": 5, "shock.2.steps": 5,
         "shock.3.at_s": 125, "shock.3.duration_s": 5, "shock.3.steps": 5}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    cmp = compare("flash_crash", [("market", "insurance", "adl"), ("market", "insurance")],
                  seeds=2, workers=1, out_dir=out, overrides=SMALL)
    return cmp, (out / "report.html").read_text()


def test_header_names_preset_shocks_populations_and_seeds(report):
    _, page = report
    assert "binance_usdm · BTCUSDT" in page
    assert "index slide −7 % at 100 s for 10 s" in page and "mm withdraw 50 % at 98 s for 30 s" in page
    assert "directional (directional) × 100, leverage 3/5/10/20/50x" in page
    assert "<td class='k'>seeds</td><td class='k'>0, 1</td>" in page


def test_verdict_marks_best_and_worst_with_units(report):
    cmp, page = report
    verdict = page[page.index("<h2>Verdict</h2>"):page.index("Who absorbed")]
    row = re.search(r"<td class='k'>bad_debt</td><td class='k'>USDT</td>(.*?)</tr>", verdict).group(1)
    bad = {lbl: cmp.stats()[lbl]["bad_debt"][0] for lbl in cmp.labels}
    cells = re.findall(r"<td( class='(best|worst)')?>", row)
    marks = [c[1] for c in cells][:2]
    if bad["market,insurance,adl"] < bad["market,insurance"]:
        assert marks == ["best", "worst"]
    assert "▲ best" in verdict and "▼ worst" in verdict


def test_notes_explain_retriggers_and_na_from_the_data(report):
    cmp, page = report
    trig = cmp.stats()["market,insurance"]["liquidation_triggers"][0]
    eps = cmp.stats()["market,insurance"]["liquidations"][0]
    if trig > eps * 1.05 + 1:
        assert f"market → insurance: {trig:,.0f} liquidation triggers for {eps:,.0f} episodes" in page
    assert "haircut_gini n/a in market → insurance: no winner took a haircut" in page


def test_sections_and_figures_over_all_seeds(report):
    cmp, page = report
    for section in ("Who absorbed the liquidations", "Cascade timeline", "Liquidation episodes",
                    "Over time (all seeds)", "Every metric"):
        assert f"<h2>{section}</h2>" in page
    for name in ("loss_absorption", "cascade", "prices", "insurance", "open_interest"):
        assert f'alt="{name}"' in page
    assert "Figures (seed 0)" not in page                     # not drawn for seed 0 alone
    eps = cmp.results["market,insurance"][0].plot["episodes"]
    assert eps and {"account", "population", "leverage", "closed_by", "close_price"} <= set(eps[0])
    assert len(eps) == cmp.results["market,insurance"][0].metrics["liquidations"]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_report_renders_in_headless_chromium(report, tmp_path):
    _, page = report
    html = tmp_path / "r.html"
    html.write_text(page)
    shot = tmp_path / "shot.png"
    proc = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-quic", "--no-first-run", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,3000",
                           f"--screenshot={shot}", html.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.stat().st_size > 50_000
    assert "img{width:100%" in page
    # every embedded figure is drawn about 1,000 px wide and shown at the page width
    import struct

    for b64 in re.findall(r'src="data:image/png;base64,([^"]+)"', page):
        png = base64.b64decode(b64)
        width = struct.unpack(">I", png[16:20])[0]
        assert width >= 900


from exchange.sim.strategy import Strategy  # noqa: E402


class Longer(Strategy):
    """Buys 2 BTC at 20x whenever flat: liquidated in the crash."""
    deposit = "20000"
    leverage = 20
    interval_ms = 1000

    def on_tick(self, api):
        if api.position.size == 0 and api.mark:
            api.market("BUY", "2")


def test_strategy_section_has_pnl_liquidations_equity_and_position_over_time(tmp_path):
    from decimal import Decimal

    from exchange.sim.strategy import strategy_overrides

    over = {**SMALL, **strategy_overrides(Longer)}
    cmp = compare("flash_crash", [("market", "insurance", "adl"), ("auction", "insurance", "adl")],
                  seeds=2, workers=1, out_dir=tmp_path, overrides=over)
    html = (tmp_path / "report.html").read_text()
    sec = html[html.index("Your strategy in each design"):]
    for key in ("pnl", "equity_end", "liquidations"):
        assert f"<td class='k'>{key}</td>" in sec
    imgs = dict(re.findall(r'alt="(strategy_[^"]+)" src="data:image/png;base64,([^"]+)"', sec))
    assert set(imgs) == {"strategy_strategy_equity", "strategy_strategy_position"}
    assert all(base64.b64decode(v)[:8] == b"\x89PNG\r\n\x1a\n" for v in imgs.values())
    for lbl in cmp.labels:
        for r in cmp.results[lbl]:
            s = r.plot["strategies"]["strategy"]
            assert len(s["equity"]) == len(r.plot["t"]) == len(s["position"])
            # sampled from t = 0: the deposit, then the position it opened; the end matches
            # the run's own accounting of the strategy
            assert s["equity"][0] == pytest.approx(float(Decimal(Longer.deposit)))
            assert max(s["position"]) == pytest.approx(2.0)
            assert s["equity"][-1] == pytest.approx(r.strategies["strategy"]["equity_end"], abs=1e-6)
            assert r.strategies["strategy"]["liquidations"] >= 1


def test_strategy_series_stay_bounded_and_aligned():
    from exchange.sim.runner import run
    from exchange.sim.strategy import strategy_overrides

    r = run("flash_crash", 0, None, None, report=False, journal="none",
            overrides={**SMALL, **strategy_overrides(Longer)},
            prepare=lambda sim: setattr(sim, "_max_series", 16))
    n = len(r.series["ts_ns"])
    assert 8 <= n <= 16
    assert len(r.series["strategy.strategy.equity_atoms"]) == n
    assert len(r.series["strategy.strategy.position_lots"]) == n
