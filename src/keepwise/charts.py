"""Small building blocks for HTML output: a Plotly figure as a page fragment, a plain table, a money label.

They sit below every stage so that a stage can draw its own figure (the conjoint report, the wins chart)
without importing the review's report package.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go
from markupsafe import escape

from keepwise.money import shown

__all__ = ["escape", "fragment", "html_table", "money_text"]


def money_text(amount: Any, currency: str = "USD") -> str:
    """``$38,200`` for 100 or more (whole units), ``$12.50`` below; ``NT$38,200``, ``38,200 zł`` in others.

    The amount is rounded half up from its exact value (:func:`keepwise.money.shown`), never through a float.
    """
    value = Decimal(str(amount))
    return shown(value, currency, whole=abs(value) >= 100)


def fragment(fig: go.Figure, div_id: str) -> str:
    """The figure as an HTML ``div`` that uses the page's embedded plotly.js."""
    return str(
        fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False})
    )


def html_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()) -> str:
    """A plain HTML table; cells are escaped, columns listed in ``numeric`` are right-aligned."""
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(v)}</td>' if i in numeric else f"<td>{escape(v)}</td>"
            for i, v in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f'<table class="data"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
