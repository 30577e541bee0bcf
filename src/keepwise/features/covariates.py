"""Time-invariant customer covariates for the purchase models: joined in the engine, encoded as numbers.

Covariates come from the store's ``customers`` table (e.g. ``channel``, ``segment``) or from a file with
``customer_id`` and the columns. :func:`covariate_histogram` joins them to the per-customer BTYD summary in
the engine and returns the compressed histogram of unique (summary, covariates) rows;
:func:`encode_covariates` turns the columns into numbers (text as 0/1 indicators against its most common
value).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.features.btyd import histogram
from keepwise.store import Store, as_store

__all__ = [
    "MAX_LEVELS",
    "MissingCovariates",
    "covariate_histogram",
    "encode_covariates",
    "need_columns",
    "with_covariates",
]

#: most levels a text covariate may have (each level but the most common becomes a 0/1 column)
MAX_LEVELS = 20


class MissingCovariates(BadInput):
    """The customers table lacks covariate columns (``missing``); name columns of it or give a file."""

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__(
            "covariates",
            f"the customers table has no column {', '.join(map(repr, missing))}; name columns of it (e.g. "
            "channel, segment) or give a covariates file with customer_id and the columns",
        )


def need_columns(df: pd.DataFrame, cols: list[str], source: str) -> None:
    """Raise an input error naming ``source`` unless ``df`` has every column of ``cols``."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeepwiseInputError(f"{source} lacks column(s) {', '.join(missing)} (needs {', '.join(cols)})")


def encode_covariates(
    df: pd.DataFrame, names: list[str], source: str, weights: Any = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Numeric model columns from covariate columns: numbers as they are, text as 0/1 indicators.

    A text column becomes one indicator per level, named ``column=level``, except its most common level,
    the reference (coefficients are relative to it; most common among customers: rows count ``weights``
    each, default 1; ties go to the first level in sort order). Returns the columns and, per text column,
    its reference level. Missing values, a single level or too many levels are input errors.
    ``keepwise fit`` and ``keepwise clv`` both encode with this function.
    """
    out: dict[str, np.ndarray] = {}
    reference: dict[str, Any] = {}
    for name in names:
        if name not in df.columns:
            raise KeepwiseInputError(f"covariate {name!r} is not a column of {source}")
        col = df[name]
        if col.isna().any():
            raise KeepwiseInputError(
                f"covariate {name!r} is empty for {int(col.isna().sum()):,} customers in {source}: fill it "
                "in or leave the covariate out"
            )
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            out[name] = col.to_numpy(dtype=float)
            continue
        w = np.ones(len(col)) if weights is None else np.asarray(weights, dtype=float)
        counts = pd.Series(w, index=col.index).groupby(col.astype(str).to_numpy()).sum()
        counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        if len(counts) < 2 or len(counts) > MAX_LEVELS:
            raise KeepwiseInputError(
                f"covariate {name!r} has {len(counts)} distinct values; a text covariate needs 2 to "
                f"{MAX_LEVELS}"
            )
        ref = str(counts.index[0])
        reference[name] = ref
        values = col.astype(str).to_numpy()
        for level in sorted(counts.index[1:]):
            out[f"{name}={level}"] = (values == level).astype(float)
    return pd.DataFrame(out, index=df.index), reference


def covariate_histogram(
    store: Store, summary: Any, keys: list[str], names: list[str], path: Path | None
) -> tuple[Any, pd.DataFrame, str]:
    """The summary joined with the covariates, and its histogram.

    Returns the joined table (Ibis), its histogram over ``keys`` and ``names`` with ``count`` (pandas, in
    the order of the keys) and where the covariates came from (for messages).
    """
    joined = with_covariates(store, summary, names, path)
    h = histogram(joined, [*keys, *names])
    return joined, h, str(path) if path is not None else "the customers table"


def with_covariates(store: Store, summary: Any, names: list[str], path: Path | None) -> Any:
    """The per-customer summary joined (in the engine) with covariate columns by customer_id.

    The columns come from the CSV file ``path`` (``customer_id`` and the columns) or, without one, from the
    store's ``customers`` table. A customer with purchases and no value of a covariate is an input error.
    """
    store = as_store(store)
    if path is not None:
        try:
            extra = pd.read_csv(path, dtype={"customer_id": str})
        except (OSError, ValueError) as exc:
            raise KeepwiseInputError(f"cannot read covariates file {path}: {exc}") from None
        need_columns(extra, ["customer_id", *names], str(path))
        if extra["customer_id"].duplicated().any():
            raise KeepwiseInputError(f"{path} has more than one row for some customer_id")
        table = ibis.memtable(extra[["customer_id", *names]])
        source = str(path)
    else:
        table = store.table("customers")
        missing = [n for n in names if n not in table.columns]
        if missing:
            raise MissingCovariates(missing)
        table = table.select("customer_id", *names)
        source = "the customers table"
    joined = summary.left_join(table, summary.customer_id == table.customer_id)
    joined = joined.select(*[summary[c] for c in summary.columns], *[table[n] for n in names])
    lacking = int(joined.filter(ibis.or_(*[joined[n].isnull() for n in names])).count().to_pyarrow().as_py())
    if lacking:
        raise KeepwiseInputError(
            f"{lacking:,} customers with purchases have no value of {', '.join(names)} in {source}: fill "
            "them in or leave the covariates out"
        )
    return joined
