"""Reading ``keepwise.toml`` into a :class:`Config`, and listing the figures a report used (:func:`used`)."""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from keepwise.config.clv import ClvAssumptions
from keepwise.config.decisions import DecisionAssumptions
from keepwise.config.experiments import ExperimentAssumptions
from keepwise.config.fields import CONFIG_FILE, HOME, as_type_of
from keepwise.config.imports import ImportAssumptions
from keepwise.config.messages import MessagesAssumptions
from keepwise.config.review import ReviewAssumptions
from keepwise.config.value import ValueAssumptions
from keepwise.config.web import WebAssumptions
from keepwise.exceptions import KeepwiseInputError

__all__ = ["Config", "load_config", "used"]


@dataclass(frozen=True)
class Config:
    """Every section of ``keepwise.toml``; ``path`` is the file read (``None``: defaults only)."""

    value: ValueAssumptions = field(default_factory=ValueAssumptions)
    clv: ClvAssumptions = field(default_factory=ClvAssumptions)
    messages: MessagesAssumptions = field(default_factory=MessagesAssumptions)
    decisions: DecisionAssumptions = field(default_factory=DecisionAssumptions)
    experiments: ExperimentAssumptions = field(default_factory=ExperimentAssumptions)
    review: ReviewAssumptions = field(default_factory=ReviewAssumptions)
    web: WebAssumptions = field(default_factory=WebAssumptions)
    imports: ImportAssumptions = field(default_factory=ImportAssumptions)
    path: Path | None = None
    set_in_file: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # a figure shared by several sections (keepwise.config.fields.shared) is copied from its home section
        for name in _SECTIONS:
            section = getattr(self, attribute(name))
            synced = _synced(section, self)
            if synced is not section:
                object.__setattr__(self, attribute(name), synced)


def _synced(section: Any, config: Config) -> Any:
    """``section`` with every shared figure set to its home figure in ``config`` (a copy if one changed)."""
    out = section
    for f in dataclasses.fields(section):
        home = f.metadata.get(HOME)
        if home is None:
            continue
        home_section, key = home.split(".")
        value = as_type_of(f.default, getattr(getattr(config, home_section), key))
        if getattr(out, f.name) != value or type(getattr(out, f.name)) is not type(value):
            out = copy.copy(out) if out is section else out
            object.__setattr__(out, f.name, value)
    return out


_SECTIONS: dict[str, type] = {
    "clv": ClvAssumptions,
    "decisions": DecisionAssumptions,
    "experiments": ExperimentAssumptions,
    "messages": MessagesAssumptions,
    "review": ReviewAssumptions,
    "value": ValueAssumptions,
    "web": WebAssumptions,
    "import": ImportAssumptions,
}


def attribute(section: str) -> str:
    """The :class:`Config` attribute of a file's section (``[import]`` is ``imports``, a keyword aside)."""
    return "imports" if section == "import" else section


def load_config(path: str | Path | None = None) -> Config:
    """Read ``keepwise.toml`` (default: from the working directory) into a :class:`Config`.

    A missing file gives the documented defaults. Unknown keys and values of the wrong kind are errors that
    name the key, so a typo never silently falls back to a default.

    Parameters
    ----------
    path:
        The file to read; ``None`` reads ``keepwise.toml`` in the working directory if it exists.
    """
    file = Path(path) if path is not None else Path.cwd() / CONFIG_FILE
    if not file.exists():
        if path is not None:
            raise KeepwiseInputError(f"config file '{file}' does not exist")
        return Config()
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise KeepwiseInputError(f"{file}: not valid TOML: {exc}") from None
    kwargs: dict[str, dict[str, Any]] = {}
    set_keys: set[str] = set()
    setters: dict[str, list[str]] = {}  # keys of the file that set each figure (a shared one may have two)
    for name, values in raw.items():
        if name not in _SECTIONS:
            raise KeepwiseInputError(f"{file}: unknown section [{name}]; known: {', '.join(_SECTIONS)}")
        known = {f.name: f for f in dataclasses.fields(_SECTIONS[name])}
        for key, value in values.items():
            if key not in known:
                raise KeepwiseInputError(
                    f"{file}: unknown key '{key}' in [{name}]; known: {', '.join(known)}"
                )
            home = known[key].metadata.get(HOME, f"{name}.{key}")  # an older name of a shared figure
            home_section, home_key = home.split(".")
            home_field = next(f for f in dataclasses.fields(_SECTIONS[home_section]) if f.name == home_key)
            coerced = _coerce(file, home, _default_of(home_field), value)
            given = kwargs.setdefault(home_section, {})
            if home_key in given and given[home_key] != coerced:
                names = " and ".join(sorted({*setters[home], f"{name}.{key}"}))
                raise KeepwiseInputError(
                    f"{file}: {names} give different values of one figure; set {home} only (the other is "
                    "its older name)"
                )
            given[home_key] = coerced
            setters.setdefault(home, []).append(f"{name}.{key}")
            set_keys.add(home)
    sections = {attribute(name): _SECTIONS[name](**given) for name, given in kwargs.items()}
    value = sections.get("value")
    if value is not None and value.platinum_share + value.gold_share > 1:
        raise KeepwiseInputError(f"{file}: value.platinum_share + value.gold_share must not exceed 1")
    return Config(**sections, path=file, set_in_file=frozenset(set_keys))


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


#: Keys that are positive multiples (of a customer's usual gap), not shares between 0 and 1.
_MULTIPLES = frozenset(
    {"review.inactivity_gaps", "review.overdue_min_excess", "review.dropped_category_min_excess"}
)


def _coerce(file: Path, key: str, default: Any, value: Any) -> Any:
    """Turn a TOML value into the type of the field's default (money as exact Decimal, never float)."""
    if key == "value.referral_value":
        if value == "first_year_margin":
            return None
        return _decimal(file, key, value)
    if key == "value.fx":
        if not isinstance(value, dict):
            raise KeepwiseInputError(f"{file}: [{key}] must be a table of CURRENCY = rate")
        rates = {str(k).upper(): _decimal(file, f"{key}.{k}", v) for k, v in value.items()}
        for k, rate in rates.items():
            if rate <= 0:
                raise KeepwiseInputError(f"{file}: {key}.{k} must be a positive rate, not {rate}")
        return rates
    if key == "clv.discount_rate":
        rate = _decimal(file, key, value)
        if not rate.is_finite() or rate <= -1:
            raise KeepwiseInputError(
                f"{file}: {key} must be an annual rate above -1 such as 0.1, not {value!r}"
            )
        return float(rate)
    if key == "clv.horizon_months":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise KeepwiseInputError(
                f"{file}: {key} must be a whole number of months, 1 or more, not {value!r}"
            )
        return value
    if key == "value.reporting_currency":
        if not isinstance(value, str) or len(value) != 3:
            raise KeepwiseInputError(f'{file}: {key} must be an ISO 4217 code such as "USD"')
        return value.upper()
    if isinstance(default, Decimal):
        return _decimal(file, key, value)
    if key in _MULTIPLES:
        if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
            raise KeepwiseInputError(f"{file}: {key} must be a positive number, not {value!r}")
        return float(value)
    if isinstance(default, int) and not isinstance(default, bool):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise KeepwiseInputError(f"{file}: {key} must be a whole number, 0 or more, not {value!r}")
        return value
    if isinstance(default, float):
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise KeepwiseInputError(f"{file}: {key} must be a share between 0 and 1, not {value!r}")
        return float(value)
    return value


def _decimal(file: Path, key: str, value: Any) -> Decimal:
    """An exact decimal from a TOML string or number (write money as a string to keep it exact)."""
    if isinstance(value, bool):
        raise KeepwiseInputError(f"{file}: {key} must be an amount, not {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise KeepwiseInputError(f'{file}: {key} must be an amount such as "150.00", not {value!r}') from None


def used(config: Config, section: str) -> list[dict[str, Any]]:
    """The assumptions of ``section`` as a report shows them: name, value, where it came from, meaning.

    Parameters
    ----------
    config:
        The configuration the report was computed with.
    section:
        A section name such as ``"value"``.

    Returns
    -------
    list of dict
        One entry per figure with ``name``, ``value`` (money as a string), ``from`` (``keepwise.toml`` or
        ``default``), ``source`` (of the default) and ``meaning``.
    """
    obj = getattr(config, attribute(section))
    rows: list[dict[str, Any]] = []
    for own in dataclasses.fields(obj):
        home = own.metadata.get(HOME)
        if home is None:
            f, name, value = own, f"{section}.{own.name}", getattr(obj, own.name)
        else:  # a figure shared with another section: shown under its home name, as it is set
            home_section, key = home.split(".")
            home_obj = getattr(config, home_section)
            f = next(h for h in dataclasses.fields(home_obj) if h.name == key)
            name, value = home, getattr(home_obj, key)
        if f.name == "referral_value" and value is None:
            value = "first_year_margin"
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, dict):
            value = {k: str(v) for k, v in value.items()}
        rows.append(
            {
                "name": name,
                "value": value,
                "from": CONFIG_FILE if name in config.set_in_file else "default",
                "source": f.metadata["source"],
                "meaning": f.metadata["doc"],
            }
        )
    return rows
