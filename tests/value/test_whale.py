"""The whale curve: its points, headline figures and what the plots show."""

from __future__ import annotations

from decimal import Decimal

import matplotlib
import pandas as pd
import pytest

from keepwise.value.profitability import customer_ledger
from keepwise.value.whale import X_TITLE, Y_TITLE, plot_whale, whale_curve, whale_figure

from .conftest import CONFIG

matplotlib.use("Agg")


def test_fixture_curve_and_headline_by_hand(shop):
    # March profits, most profitable first: E 170, C 90, D 30, A -25.50, B -50.8333; total 213.6667.
    # Running sums 170, 260, 290 (the peak, after 3 of 5 customers = 60%), 264.50, 213.6667.
    # 290 / 213.6667 = 135.7%; the loss makers (40%) destroy 76.3333 / 213.6667 = 35.7%;
    # the top 20% (E) earn 170 / 213.6667 = 79.6%.
    curve, h = whale_curve(customer_ledger(shop, "2024-03", config=CONFIG))
    assert list(curve["rank"]) == [0, 1, 2, 3, 4, 5]
    assert list(curve["customer_share"]) == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    assert list(curve["cumulative_profit"]) == [
        Decimal(x) for x in ("0", "170", "260", "290", "264.5", "213.6667")
    ]
    assert curve["profit_share"].iloc[-1] == pytest.approx(100.0)
    assert curve["profit_share"].max() == pytest.approx(135.7254, abs=1e-4)
    assert (h.customers, h.total_profit) == (5, Decimal("213.6667"))
    assert (h.peak_customer_share, h.peak_profit_share) == (60.0, 135.7)
    assert (h.loss_customer_share, h.loss_profit_share) == (40.0, 35.7)
    assert h.top20_profit_share == 79.6
    assert h.sentence == "The top 60% of customers earn 136% of profit; the bottom 40% destroy 36% of it."
    assert h.as_dict()["total_profit"] == "213.67"


def test_plotly_figure_shows_the_curve_the_peak_and_the_headline(shop):
    curve, h = whale_curve(customer_ledger(shop, "2024-03", config=CONFIG))
    fig = whale_figure(curve, h)
    line, peak = fig.data
    assert list(line.x) == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    assert list(line.y) == pytest.approx([0.0, 79.563, 121.685, 135.725, 123.791, 100.0], abs=1e-3)
    assert (peak.x[0], peak.y[0]) == (60.0, 135.7)
    assert peak.text[0] == "top 60% earn 136%"
    assert fig.layout.xaxis.title.text == X_TITLE
    assert fig.layout.yaxis.title.text == Y_TITLE
    assert h.sentence in fig.layout.title.text
    assert [s.y0 for s in fig.layout.shapes] == [100]  # the 100%-of-profit line


def test_matplotlib_axes_show_the_same(shop):
    curve, h = whale_curve(customer_ledger(shop, "2024-03", config=CONFIG))
    ax = plot_whale(curve, h)
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    assert max(line.get_ydata()) == pytest.approx(135.7254, abs=1e-4)
    assert ax.get_xlabel() == X_TITLE and ax.get_ylabel() == Y_TITLE
    assert h.sentence in ax.get_title()
    assert ax.get_xlim() == (0.0, 100.0)


def test_large_curve_is_thinned_but_keeps_peak_and_ends():
    # 1000 customers: 300 earn 10.00 each, 500 earn 0, 200 lose 5.00 each. Total 3000 - 1000 = 2000.
    profit = [10] * 300 + [0] * 500 + [-5] * 200
    frame = pd.DataFrame({"customer_id": [f"c{i:04d}" for i in range(1000)], "profit": profit})
    curve, h = whale_curve(frame, points=50)
    assert len(curve) <= 54
    assert {0, 300, 1000} <= set(curve["rank"])
    assert curve.set_index("rank").loc[300, "profit_share"] == pytest.approx(150.0)
    assert (h.peak_customer_share, h.peak_profit_share) == (30.0, 150.0)
    assert (h.loss_customer_share, h.loss_profit_share) == (20.0, 50.0)
    assert h.top20_profit_share == 100.0  # the top 200 earn 2000 of 2000


def test_headline_when_the_business_loses_money():
    frame = pd.DataFrame({"customer_id": ["a", "b"], "profit": [Decimal("5"), Decimal("-10")]})
    curve, h = whale_curve(frame)
    assert h.peak_profit_share is None and h.loss_customer_share == 50.0
    assert h.sentence.startswith("Total profit is -5.00, not positive")
    fig = whale_figure(curve, h, currency="USD")
    assert list(fig.data[0].y) == [0.0, 5.0, -5.0]
    assert fig.layout.yaxis.title.text == "Cumulative profit (USD)"
