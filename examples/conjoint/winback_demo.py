r"""A worked win-back conjoint study, end to end, on simulated answers with known part-worths.

Usage: .venv/bin/python examples/conjoint/winback_demo.py [--db duckdb:///x.duckdb] [--html x.html]

1. builds a D-efficient design for ``winback_study.yaml`` (12 tasks, 10 versions);
2. simulates 300 lost customers answering it (known, varied part-worths);
3. fits a conditional logit, prints importance and willingness to pay;
4. saves the study in the store (the monthly review then shows it: ``keepwise review --html review.html``);
5. writes a page with the conjoint section and its what-if simulator (opens offline in any browser).

With real answers, step 2-4 is one command::

    keepwise conjoint estimate --file answers.csv --task-column task --alternative-column alternative \
        --choice-column chosen --respondent-column respondent \
        --attributes plan,free_months,support,contract,price --categorical free_months \
        --none-column none --price-column price --currency USD --save winback-2024 \
        --study examples/conjoint/winback_study.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from keepwise.conjoint.coding import Coding
from keepwise.conjoint.design import d_efficient
from keepwise.conjoint.report import section_html
from keepwise.conjoint.results import estimate, importance, wtp
from keepwise.conjoint.simulator import simulate_answers
from keepwise.conjoint.store import load_result, save_result, study_prohibitions
from keepwise.conjoint.study import load_study
from keepwise.store import connect

HERE = Path(__file__).parent
# plan[Basic], plan[Standard], free_months[0], free_months[1], support[Email], support[Phone],
# contract[Monthly], price, none
MEAN = np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, -0.08, 0.5])
SD = np.array([0.8, 0.6, 0.6, 0.4, 0.6, 0.5, 0.5, 0.03, 1.0])


def main() -> None:
    """Design, simulate, estimate, save and show the study."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="duckdb:///conjoint.duckdb")
    parser.add_argument("--html", default="conjoint.html")
    args = parser.parse_args()
    study = load_study(HERE / "winback_study.yaml")
    design = d_efficient(study, 12, 10, seed=1)
    truth = np.random.default_rng(0).normal(MEAN, SD, (300, len(MEAN)))
    answers = simulate_answers(design, Coding.from_study(study), truth, seed=2)
    result = estimate(
        answers,
        ["plan", "free_months", "support", "contract", "price", "none"],
        "task",
        "alternative",
        "chosen",
        respondent="respondent",
        categorical=["free_months"],
        price="price",
        none="none",
    )
    result.currency = "USD"
    print(importance(result).to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    print(wtp(result).to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    backend = connect(args.db)
    # kept with the study: its prohibited offers, its levels' words and costs, the offer a lost customer left
    save_result(
        backend,
        result,
        "winback-demo",
        source="simulated answers",
        prohibitions=study_prohibitions(study),
        terms=study.terms,
    )
    loaded = load_result(backend)
    assert loaded is not None
    from plotly.offline import get_plotlyjs

    Path(args.html).write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Win-back conjoint</title>'
        f"<script>{get_plotlyjs()}</script></head><body>{section_html(loaded)}</body></html>",
        encoding="utf-8",
    )
    print(f"saved as study 'winback-demo' in {args.db}; page: {args.html}")


if __name__ == "__main__":
    main()
