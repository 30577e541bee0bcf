"""Saving and loading a fitted model as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Self

import numpy as np

from keepwise.exceptions import KeepwiseInputError
from keepwise.models.fitting import CovariateLink
from keepwise.models.inference import FittedResults


class SerialisableModel(FittedResults):
    """A fitted model that writes its state to JSON (:meth:`save`) and reads it back (:meth:`load`)."""

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as plain JSON-able data."""
        self._require_fitted()
        return {
            "model": type(self).__name__,
            "params": self.params_,
            "theta": self._theta.tolist(),
            "cov": self._cov.tolist(),
            "links": [[lk.parameter, list(lk.columns), lk.sign] for lk in self._links],
            "log_likelihood": self.log_likelihood_,
            "n_customers": self.n_customers_,
            "penalizer": self.penalizer,
            "extra": self._extra_state(),
        }

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _set_extra_state(self, extra: dict[str, Any]) -> None:
        pass

    def save(self, path: str | Path) -> None:
        """Write the fitted model to a JSON file."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model written by :meth:`save`."""
        state = json.loads(Path(path).read_text())
        if state.get("model") != cls.__name__:
            raise KeepwiseInputError(f"{path} holds a {state.get('model')}, not a {cls.__name__}")
        obj = cls(penalizer=state.get("penalizer", 0.0))
        obj._theta = np.asarray(state["theta"], dtype=float)
        obj._cov = np.asarray(state["cov"], dtype=float)
        obj._links = tuple(CovariateLink(p, tuple(c), float(s)) for p, c, s in state["links"])
        obj.params_ = {k: float(v) for k, v in state["params"].items()}
        obj.covariate_params_ = {}
        pos = obj._n_base
        for link in obj._links:
            k = len(link.columns)
            obj.covariate_params_[link.parameter] = dict(
                zip(link.columns, obj._theta[pos : pos + k], strict=True)
            )
            pos += k
        obj.log_likelihood_ = float(state["log_likelihood"])
        obj.n_customers_ = int(state["n_customers"])
        obj.fit_seconds_ = 0.0
        obj.hessian_seconds_ = 0.0
        obj._set_extra_state(state.get("extra", {}))
        return obj
