"""Figures computed once per run: a cache that lives for one command (or one review) on one store.

A review asks for the same figure many times: the month's and the twelve months' profitability documents,
the whale curve and the least profitable customers all read the same per-customer ledger, and every stage
asks for the data's last month and currency. Inside ``with one_run(store):`` a function decorated with
:func:`once` computes each distinct call once and hands the same result back afterwards; the store's table
expressions are looked up once too (each lookup is a query for the table's schema). Outside a run, nothing is
cached: a long-lived process (the dashboard) always reads the store as it is now.

A cached result is shared, so callers must not change it in place (pandas frames are handed out as shallow
copies, so adding or replacing a column is safe).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar, cast

__all__ = ["active", "forget", "forget_table", "kept", "once", "one_run"]

P = ParamSpec("P")
R = TypeVar("R")

#: id of each store engine in a run -> that run's cache (figures by call, and table expressions by name)
_RUNS: dict[int, dict[Any, Any]] = {}
#: the cache's entry listing the engine tables :func:`kept` made (dropped when the run ends)
_TEMPS = ("temps",)


def _engine(store: Any) -> Any:
    """The engine object under a Store (or the handle itself): what identifies one store in this process."""
    return getattr(store, "backend", store)


@contextmanager
def one_run(store: Any) -> Iterator[None]:
    """Cache :func:`once` figures and table lookups of ``store`` until the block ends.

    Nested runs on the same store share the outer run's cache; the cache is dropped when the outermost run
    ends, with the engine tables :func:`kept` made.
    """
    key = id(_engine(store))
    if key in _RUNS:
        yield
        return
    _RUNS[key] = {_TEMPS: []}
    try:
        yield
    finally:
        temps = _RUNS.pop(key)[_TEMPS]
        if temps:
            from keepwise.store.store import as_store

            for name in temps:
                as_store(store).drop_temp(name)


def active(store: Any) -> dict[Any, Any] | None:
    """The cache of the run ``store`` is in (``None``: not in a run)."""
    return _RUNS.get(id(_engine(store)))


def forget(store: Any) -> None:
    """Drop what the current run cached for ``store``: called by every write, as the data may have changed."""
    cache = active(store)
    if cache is not None:
        temps = cache[_TEMPS]
        cache.clear()
        cache[_TEMPS] = temps


def forget_table(store: Any, name: str) -> None:
    """Drop the run's lookup of table ``name`` (it is being dropped or made again)."""
    cache = active(store)
    if cache is not None:
        cache.pop(("table", name), None)


def kept(store: Any, expr: Any, label: str) -> Any:
    """``expr`` computed once into a temporary engine table for the rest of the run (outside a run: ``expr``).

    Later queries on the result read the small table instead of computing ``expr`` again, and compile faster.
    """
    cache = active(store)
    if cache is None:
        return expr
    from keepwise.store.store import as_store

    temps = cache[_TEMPS]
    name = f"_kw_run_{label}_{len(temps)}"
    temps.append(name)
    return as_store(store).materialize(expr, name)


def once(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate ``fn(store, ...)`` so that, inside :func:`one_run`, each distinct call is computed once.

    Calls are told apart by the ``repr`` of their other arguments, defaults filled in (configurations are
    frozen dataclasses, whose ``repr`` lists every field). A pandas result is handed out as a shallow copy
    keeping its ``attrs``.
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        cache = active(args[0]) if args else None
        if cache is None:
            return fn(*args, **kwargs)
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()  # f(s, m) and f(s, m, view="month") are one call
        key = (fn.__module__, fn.__qualname__, repr(list(bound.arguments.values())[1:]))
        if key not in cache:
            cache[key] = fn(*args, **kwargs)
        return cast(R, _handout(cache[key]))

    return wrapper


def _handout(value: Any) -> Any:
    """A cached value as a caller gets it: frames as shallow copies (with their attrs), the rest as is."""
    copy = getattr(value, "copy", None)
    if copy is not None and hasattr(value, "attrs") and hasattr(value, "columns"):
        out = copy(deep=False)
        out.attrs = dict(value.attrs)
        return out
    return value
