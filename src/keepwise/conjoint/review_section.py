"""The conjoint section of the monthly review: shown when the store holds a saved study.

:mod:`keepwise.review` imports this module (it is listed in ``PLUGIN_MODULES``) and calls
:func:`register_review_section`. The section shows the study saved last
(:func:`keepwise.conjoint.store.load_result`): importance bars, willingness to pay with intervals and the
what-if simulator (:func:`keepwise.conjoint.report.section_html`); a store without a study leaves it out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keepwise.conjoint.hb import HierarchicalBayesMNL
from keepwise.conjoint.latent_class import LatentClassMNL
from keepwise.conjoint.report import headline, section_html
from keepwise.conjoint.results import importance, wtp
from keepwise.conjoint.store import list_studies, load_result
from keepwise.money import cents

if TYPE_CHECKING:
    from keepwise.review import ReviewContext, Section

__all__ = ["conjoint_section", "register_review_section"]


def conjoint_section(ctx: ReviewContext) -> Section | None:
    """The latest saved conjoint study as a review section, or ``None`` when there is none."""
    from keepwise.review import Section

    result = load_result(ctx.backend)
    if result is None:
        return None
    saved = list_studies(ctx.backend)
    saved_at = saved.loc[saved["study"] == result.study, "saved_at"].iloc[0]
    data = {
        "study": result.study,
        "saved_at": saved_at.isoformat(),
        "model": (
            "hb"
            if isinstance(result.model, HierarchicalBayesMNL)
            else "lc"
            if isinstance(result.model, LatentClassMNL)
            else "mnl"
        ),
        "currency": result.currency,
        "importance": [
            {"attribute": r["attribute"], "importance": round(float(r["importance"]), 2)}
            for r in importance(result).to_dict(orient="records")
        ],
    }
    if result.coding.price is not None:
        data["wtp"] = [
            {
                "attribute": r["attribute"],
                "level": r["level"],
                "wtp": cents(r["wtp"]),
                "lower": cents(r["lower"]),
                "upper": cents(r["upper"]),
            }
            for r in wtp(result).to_dict(orient="records")
        ]
    if isinstance(result.model, LatentClassMNL):
        data["segments"] = [
            {"class": s + 1, "share": round(float(share), 4)}
            for s, share in enumerate(result.model.class_shares_)
        ]
    note = (
        f'<p class="notes">Study saved {saved_at:%Y-%m-%d}; fit a newer one with '
        "<code>keepwise conjoint estimate ... --save NAME</code>.</p>"
    )
    return Section(
        key="conjoint",
        title="What would win lost customers back (conjoint study)",
        headline=headline(result),
        data=data,
        html=section_html(result) + note,
    )


def register_review_section() -> None:
    """Add the ``conjoint`` section to the review (after the built-in sections)."""
    from keepwise.review import register_section

    register_section("conjoint", conjoint_section)
