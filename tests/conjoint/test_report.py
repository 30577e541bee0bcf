"""The conjoint figures, the HTML fragment and its what-if simulator (in real Chromium, offline)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keepwise.conjoint.plotting import plot_importance, plot_part_worths, plot_wtp
from keepwise.conjoint.report import default_offers, section_html
from keepwise.conjoint.results import importance, part_worths, wtp
from keepwise.conjoint.simulator import share_of_preference


def test_importance_figure_shows_the_importance_table(winback_mnl):
    fig = plot_importance(winback_mnl)
    table = importance(winback_mnl)
    bar = fig.data[0]
    assert list(bar.y) == table["attribute"].tolist()[::-1]  # most important on top
    assert list(bar.x) == table["importance"].tolist()[::-1]
    assert fig.layout.title.text.startswith("Attribute importance")
    assert fig.layout.xaxis.title.text == "importance %"


@pytest.mark.parametrize("kind", ["winback_mnl", "winback_hb"])
def test_wtp_figure_shows_each_interval(kind, request):
    result = request.getfixturevalue(kind)
    fig = plot_wtp(result)
    table = wtp(result).iloc[::-1]
    point = fig.data[0]
    assert list(point.x) == table["wtp"].tolist()
    lower = [x - m for x, m in zip(point.x, point.error_x.arrayminus, strict=True)]
    upper = [x + p for x, p in zip(point.x, point.error_x.array, strict=True)]
    assert lower == pytest.approx(table["lower"].tolist(), abs=1e-9)
    assert upper == pytest.approx(table["upper"].tolist(), abs=1e-9)
    method = "delta method" if kind == "winback_mnl" else "posterior percentiles"
    assert method in fig.layout.title.text and "(USD)" in fig.layout.title.text
    if kind == "winback_hb":  # posterior intervals need not be symmetric around the median
        assert any(
            abs(a - b) > 1e-6 for a, b in zip(point.error_x.array, point.error_x.arrayminus, strict=True)
        )


def test_part_worth_figure_has_one_trace_per_attribute(winback_mnl):
    fig = plot_part_worths(winback_mnl)
    table = part_worths(winback_mnl)
    assert [t.name for t in fig.data] == list(dict.fromkeys(table["attribute"]))
    plan = next(t for t in fig.data if t.name == "plan")
    assert list(plan.y) == table[table["attribute"] == "plan"]["part_worth"].tolist()


def test_fragment_is_offline_and_shows_python_shares(winback_mnl):
    html = section_html(winback_mnl)
    assert "<script src=" not in html and "cdn" not in html.lower()
    assert 'id="conjoint-importance"' in html and 'id="conjoint-wtp"' in html
    offers = default_offers(winback_mnl)
    shares = share_of_preference(winback_mnl, offers[:2])  # ours and competitor A start in the market
    shown = dict(re.findall(r'data-share="(\w+)"[^>]*>([^<]*)<', html))
    assert shown == {
        "0": f"{100 * shares.iloc[0]:.1f}%",
        "1": f"{100 * shares.iloc[1]:.1f}%",
        "2": "not offered",
        "none": f"{100 * shares.iloc[2]:.1f}%",
    }
    # headline: the most important attribute and the largest WTP with its interval, in dollars
    top = importance(winback_mnl).iloc[0]
    best = wtp(winback_mnl).sort_values("wtp").iloc[-1]
    assert (
        f"The conjoint study: {top['attribute']} drives {top['importance']:.0f}% of the choice; customers "
        f"would pay ${best['wtp']:,.2f} more for plan Premium over Basic (95% interval ${best['lower']:,.2f} "
        f"to ${best['upper']:,.2f})."
    ) in html


def page(tmp_path: Path, fragment: str) -> Path:
    from plotly.offline import get_plotlyjs

    path = tmp_path / "conjoint.html"
    path.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><script>{get_plotlyjs()}</script></head>'
        f"<body>{fragment}</body></html>",
        encoding="utf-8",
    )
    return path


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["winback_mnl", "winback_hb"])
def test_whatif_shares_in_chromium_equal_the_simulator(kind, request, tmp_path, offline_page):
    result = request.getfixturevalue(kind)
    path = page(tmp_path, section_html(result))
    steps = []
    opened = offline_page()
    pg = opened.page
    pg.goto(path.as_uri())
    pg.wait_for_selector("#conjoint-importance .main-svg")

    def read():
        return {k: pg.locator(f"#conjoint-share-{k}").text_content() for k in ("0", "1", "2", "none")}

    # 1. our offer: Premium plan, 3 free months, dedicated manager, at $44
    pg.select_option("#conjoint-o0-plan", "Premium")
    pg.select_option("#conjoint-o0-free_months", "3")
    pg.select_option("#conjoint-o0-support", "Dedicated manager")
    pg.fill("#conjoint-o0-price", "44")
    ours = {"plan": "Premium", "free_months": "3", "support": "Dedicated manager", "price": 44.0}
    steps.append(("ours changed", ours, True, False, read()))
    # 2. competitor B enters with a cheap basic offer, competitor A leaves
    pg.check("#conjoint-include-2")
    pg.uncheck("#conjoint-include-1")
    pg.select_option("#conjoint-o2-plan", "Basic")
    pg.fill("#conjoint-o2-price", "19")
    steps.append(("B in, A out", ours, False, True, read()))
    # 3. a price outside the tested range is flagged
    pg.fill("#conjoint-o0-price", "60")
    note = pg.locator("#conjoint-range-note").text_content()
    steps.append(("price 60", {**ours, "price": 60.0}, False, True, read()))
    n_plots = pg.locator(".js-plotly-plot .main-svg").count()
    errors, external = opened.errors, opened.external
    assert errors == [] and external == []
    assert n_plots >= 2
    assert "outside the tested range 19 to 49" in note
    start = default_offers(result)
    competitor_b = {**start[2], "plan": "Basic", "price": 19.0}
    for label, ours, a_in, b_in, shown in steps:
        market = [{**start[0], **ours}, *([start[1]] * a_in), *([competitor_b] * b_in)]
        shares = share_of_preference(result, market).tolist()
        expected = {"0": percent(shares[0]), "none": percent(shares[-1])}
        expected["1"] = percent(shares[1]) if a_in else "not offered"
        expected["2"] = percent(shares[1 + a_in]) if b_in else "not offered"
        assert shown == expected, label


def test_fragment_without_price_or_none(heating_long):
    """Train's Heating data: two numeric attributes, no price named, no "none": shares of offers only."""
    from keepwise.conjoint.results import estimate

    result = estimate(heating_long, ["ic", "oc"], "idcase", "alt", "chosen")
    html = section_html(result, div_id="heat")
    assert 'id="heat-wtp"' not in html and 'id="heat-importance"' in html
    assert 'data-share="none"' not in html
    offers = default_offers(result)
    shares = share_of_preference(result, offers[:2], none=False)
    shown = dict(re.findall(r'data-share="(\w+)"[^>]*>([^<]*)<', html))
    assert shown == {"0": percent(shares.iloc[0]), "1": percent(shares.iloc[1]), "2": "not offered"}
    assert "customers would pay" not in html
