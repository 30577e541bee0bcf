"""The review's conjoint section: the study saved last, shown when the store holds one.

The section reads the conjoint stage's saved study (:func:`keepwise.conjoint.store.load_result`): importance
bars, willingness to pay with intervals and the what-if simulator
(:func:`keepwise.conjoint.report.section_html`); a store without a study leaves it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from keepwise.money import cents
from keepwise.report.section import Section
from keepwise.store import Store, as_store

if TYPE_CHECKING:
    from keepwise.conjoint.results import ConjointResult
    from keepwise.review import ReviewContext

__all__ = ["KEY", "READS", "SavedStudy", "conjoint_section", "read", "saved_study", "section"]

KEY = "conjoint"
#: The stage result the section reads (:class:`keepwise.review.ReviewContext` attribute).
READS = "conjoint"
#: The table of saved studies (``keepwise.conjoint.store.STUDIES``; a test keeps the two equal).
STUDIES = "conjoint_studies"


@dataclass(frozen=True)
class SavedStudy:
    """A study saved in the store and when it was saved."""

    result: ConjointResult
    saved_at: Any


def saved_study(store: Store) -> SavedStudy | None:
    """The study saved last, or ``None`` when the store holds none."""
    store = as_store(store)
    if not store.has_table(STUDIES) or store.count(STUDIES) == 0:  # none: the conjoint package not loaded
        return None
    from keepwise.conjoint.store import list_studies, load_result

    result = load_result(store)
    if result is None:
        return None
    saved = list_studies(store)
    return SavedStudy(result, saved.loc[saved["study"] == result.study, "saved_at"].iloc[0])


def read(ctx: ReviewContext) -> SavedStudy | None:
    """The study the section shows (:func:`saved_study`)."""
    return saved_study(ctx.store)


def section(ctx: ReviewContext) -> Section | None:
    """The latest saved conjoint study as a review section, or ``None`` when there is none."""
    saved = ctx.conjoint
    if saved is None:
        return None
    from keepwise.conjoint.hb import HierarchicalBayesMNL
    from keepwise.conjoint.latent_class import LatentClassMNL
    from keepwise.conjoint.report import headline, section_html
    from keepwise.conjoint.results import importance, wtp

    result, saved_at = saved.result, saved.saved_at
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
        key=KEY,
        title="What would win lost customers back (conjoint study)",
        headline=headline(result),
        data=data,
        html=section_html(result) + note,
    )


#: The section under its longer name.
conjoint_section = section
