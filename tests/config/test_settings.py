"""keepwise.toml: one home per figure, older keys read as aliases, and the listing of the figures used."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keepwise.config import (
    ClvAssumptions,
    Config,
    DecisionAssumptions,
    ReviewAssumptions,
    load_config,
    used,
)
from keepwise.exceptions import KeepwiseInputError


def _file(tmp_path, text):
    path = tmp_path / "keepwise.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_of_the_shared_discount_rate_and_the_clv_horizon():
    cfg = Config()
    assert cfg.clv.discount_rate == 0.1 and cfg.clv.horizon_months == 12
    # the sections that read it see the same figure, in the type their code reads
    assert cfg.review.discount_rate == Decimal("0.1") and cfg.decisions.discount_rate == 0.1
    assert ReviewAssumptions.discount_rate == Decimal("0.1") and DecisionAssumptions().discount_rate == 0.1


def test_the_discount_rate_has_one_home():
    cfg = Config(clv=ClvAssumptions(discount_rate=0.2))
    assert cfg.review.discount_rate == Decimal("0.2") and cfg.decisions.discount_rate == 0.2
    with pytest.raises(TypeError):
        ReviewAssumptions(discount_rate=Decimal("0.3"))  # type: ignore[call-arg]


def test_value_section_sets_it_for_clv_review_and_decisions(tmp_path):
    cfg = load_config(_file(tmp_path, "[clv]\ndiscount_rate = 0.15\nhorizon_months = 24\n"))
    assert cfg.clv.discount_rate == 0.15 and cfg.clv.horizon_months == 24
    assert cfg.review.discount_rate == Decimal("0.15") and cfg.decisions.discount_rate == 0.15
    assert cfg.set_in_file == {"clv.discount_rate", "clv.horizon_months"}


OLD_KEYS = ['[review]\ndiscount_rate = "0.12"\n', "[decisions]\ndiscount_rate = 0.12\n"]


@pytest.mark.parametrize("text", OLD_KEYS)
def test_older_keys_are_read_as_the_clv_discount_rate(tmp_path, text):
    cfg = load_config(_file(tmp_path, text))
    assert cfg.clv.discount_rate == 0.12 and cfg.decisions.discount_rate == 0.12
    assert cfg.review.discount_rate == Decimal("0.12")
    assert cfg.set_in_file == {"clv.discount_rate"}


def test_two_names_of_one_figure_must_agree(tmp_path):
    same = load_config(_file(tmp_path, '[review]\ndiscount_rate = "0.10"\n[clv]\ndiscount_rate = 0.1\n'))
    assert same.clv.discount_rate == 0.1
    with pytest.raises(KeepwiseInputError, match=r"clv.discount_rate and review.discount_rate give"):
        load_config(_file(tmp_path, '[review]\ndiscount_rate = "0.15"\n[clv]\ndiscount_rate = 0.1\n'))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[clv]\ndiscount_rate = -1\n", "clv.discount_rate must be an annual rate above -1"),
        ('[clv]\ndiscount_rate = "ten"\n', "clv.discount_rate must be an amount"),
        ("[clv]\nhorizon_months = 0\n", "clv.horizon_months must be a whole number of months"),
        ("[clv]\nhorizon_months = 1.5\n", "clv.horizon_months must be a whole number of months"),
    ],
)
def test_bad_values_name_the_key(tmp_path, text, message):
    with pytest.raises(KeepwiseInputError, match=message):
        load_config(_file(tmp_path, text))


def test_shared_figures_are_listed_under_their_home_name(tmp_path):
    cfg = load_config(_file(tmp_path, "[decisions]\ndiscount_rate = 0.08\n"))
    review = {a["name"]: a for a in used(cfg, "review")}
    decisions = {a["name"]: a for a in used(cfg, "decisions")}
    assert "review.discount_rate" not in review and "decisions.discount_rate" not in decisions
    for shown in (review["clv.discount_rate"], decisions["clv.discount_rate"]):
        assert shown["value"] == 0.08 and shown["from"] == "keepwise.toml"
    assert {a["name"]: a for a in used(cfg, "clv")}["clv.discount_rate"]["value"] == 0.08
    assert not [a for a in used(cfg, "value") if "discount" in a["name"]]  # profitability does not use it


def test_unknown_keys_and_sections_are_errors(tmp_path):
    with pytest.raises(KeepwiseInputError, match="unknown key 'discount' in \\[value\\]"):
        load_config(_file(tmp_path, "[value]\ndiscount = 0.1\n"))
    with pytest.raises(KeepwiseInputError, match="unknown section \\[clvs\\]"):
        load_config(_file(tmp_path, "[clvs]\nhorizon = 3\n"))


def test_missing_file_gives_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config() == Config()
    with pytest.raises(KeepwiseInputError, match="does not exist"):
        load_config(tmp_path / "nothing.toml")
