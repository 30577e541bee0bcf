"""Tiers: quintiles, the Zeithaml-Rust-Lemon pyramid and month-over-month movement."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from keepwise.config import Config, ValueAssumptions, load_config, used
from keepwise.exceptions import KeepwiseInputError
from keepwise.value import profitability, tier_movement
from keepwise.value.tiers import movement_summary, tier_summary, tiers_of

from .conftest import CONFIG


def test_fixture_tiers_by_hand(shop):
    # profits: E 170, C 90, D 30, A -25.50, B -50.8333; with platinum 20% and gold 20% of 5 customers:
    # ceil(0.2 x 5) = 1 platinum (E), ceil(0.4 x 5) = 2 -> gold C; D iron; A and B lose money: lead.
    df = profitability(shop, "2024-03", config=CONFIG)
    assert dict(zip(df.customer_id, df.tier, strict=True)) == {
        "E": "platinum",
        "C": "gold",
        "D": "iron",
        "A": "lead",
        "B": "lead",
    }
    assert list(df["quintile"]) == [1, 2, 3, 4, 5]
    assert list(df["rank"]) == [1, 2, 3, 4, 5]


def test_shares_and_lead_threshold_from_config():
    frame = pd.DataFrame({"customer_id": [f"c{i:02d}" for i in range(20)], "profit": list(range(19, -1, -1))})
    # profits 19..0; top 5% of 20 = 1 platinum, next 15% = 3 gold; lead below 2.00: profits 1 and 0
    t = tiers_of(frame, Config(value=ValueAssumptions(lead_below_profit=Decimal("2"))))
    assert t.groupby("tier").size().to_dict() == {"platinum": 1, "gold": 3, "iron": 14, "lead": 2}
    assert list(t.loc[t.tier == "lead", "customer_id"]) == ["c18", "c19"]
    assert t.groupby("quintile").size().to_dict() == {1: 4, 2: 4, 3: 4, 4: 4, 5: 4}
    # ties are broken by customer_id, never by row order
    tied = pd.DataFrame({"customer_id": ["b", "a", "c"], "profit": [5, 5, 5]})
    assert list(tiers_of(tied, Config()).customer_id) == ["a", "b", "c"]


def test_movement_month_over_month():
    before = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "tier": ["gold", "iron", "lead", "iron"]})
    after = pd.DataFrame({"customer_id": ["a", "b", "c", "e"], "tier": ["iron", "platinum", "lead", "gold"]})
    moves = tier_movement(before, after)
    assert dict(zip(moves.customer_id, moves.movement, strict=True)) == {
        "a": "down",
        "b": "up",
        "c": "same",
        "d": "gone",
        "e": "new",
    }
    s = movement_summary(moves)
    assert (s["up"], s["down"], s["same"], s["new"], s["gone"]) == (1, 1, 1, 1, 1)
    assert s["matrix"]["iron"]["platinum"] == 1 and s["matrix"]["gold"]["iron"] == 1


def test_fixture_movement_february_to_march(shop):
    feb = profitability(shop, "2024-02", config=CONFIG)  # only A, with +1000: platinum
    mar = profitability(shop, "2024-03", config=CONFIG)
    moves = tier_movement(feb, mar).set_index("customer_id")
    assert moves.loc["A", ["tier_before", "tier_after", "movement"]].tolist() == ["platinum", "lead", "down"]
    assert (moves.drop(index="A").movement == "new").all()
    summary = {row["tier"]: row for row in tier_summary(mar)}
    assert summary["lead"]["customers"] == 2 and summary["lead"]["profit"] == Decimal("-76.3333")


def test_config_file_is_read_and_reported(tmp_path, monkeypatch):
    (tmp_path / "keepwise.toml").write_text(
        '[value]\nreporting_currency = "eur"\nreview_value = "12.50"\nplatinum_share = 0.1\n'
        '[value.fx]\nUSD = "0.92"\n'
    )
    monkeypatch.chdir(tmp_path)
    cfg = load_config()
    assert cfg.value.reporting_currency == "EUR"
    assert cfg.value.review_value == Decimal("12.50")
    assert cfg.value.fx == {"USD": Decimal("0.92")}
    rows = {r["name"]: r for r in used(cfg, "value")}
    assert rows["value.review_value"]["from"] == "keepwise.toml"
    assert rows["value.gold_share"]["from"] == "default" and "Zeithaml" in rows["value.gold_share"]["source"]
    assert rows["value.referral_value"]["value"] == "first_year_margin"
    (tmp_path / "keepwise.toml").write_text("[value]\nplatinum_shar = 0.1\n")
    with pytest.raises(KeepwiseInputError, match="unknown key 'platinum_shar' in \\[value\\]"):
        load_config()
