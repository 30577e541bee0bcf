"""The review report: one self-contained HTML file (Jinja2, Plotly with plotly.js embedded; offline)."""

from __future__ import annotations

from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from keepwise.exceptions import KeepwiseInputError

if TYPE_CHECKING:
    from keepwise.review import Review

__all__ = ["check_report_path", "render_html", "write_report"]


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def render_html(review: Review) -> str:
    """The report of ``review`` as one HTML document (plotly.js inline, no network access needed)."""
    from jinja2 import Environment, PackageLoader, select_autoescape  # only when a report is drawn

    env = Environment(
        loader=PackageLoader("keepwise.report", "templates"), autoescape=select_autoescape(["j2"])
    )
    try:
        version = metadata.version("keepwise")
    except metadata.PackageNotFoundError:
        version = "dev"
    start: datetime = review.period.start
    return env.get_template("review.html.j2").render(
        month=review.period.month,
        month_name=start.strftime("%B %Y"),
        version=version,
        sections=review.sections,
        notes=review.note_lines,
        assumptions=review.assumptions,
        plotly_js=_plotly_js(),
    )


def check_report_path(path: str | Path) -> Path:
    """``path`` as a :class:`~pathlib.Path` if a report can be written there; a user error otherwise."""
    out = Path(path)
    if not out.parent.exists():
        raise KeepwiseInputError(f"cannot write the report to '{out}': folder '{out.parent}' does not exist")
    if out.is_dir():
        raise KeepwiseInputError(f"cannot write the report to '{out}': it is a folder; give a file name")
    return out


def write_report(review: Review, path: str | Path) -> Path:
    """Write the report to ``path`` (its folder must exist) and return the path."""
    out = check_report_path(path)
    out.write_text(render_html(review), encoding="utf-8")
    return out
