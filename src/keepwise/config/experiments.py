"""Section ``[experiments]``: defaults of experiment design and analysis."""

from __future__ import annotations

from dataclasses import dataclass, field

from keepwise.config.fields import about

__all__ = ["ExperimentAssumptions"]


@dataclass(frozen=True)
class ExperimentAssumptions:
    """Defaults of experiment design and analysis (section ``[experiments]``)."""

    alpha: float = field(
        default=0.05,
        metadata=about(
            "Significance level: 1 - the confidence level of every interval (0.05 gives 95% intervals).",
            "convention (Fisher 1925); Kohavi, Tang and Xu, "
            "'Trustworthy Online Controlled Experiments', 2020",
        ),
    )
    power: float = field(
        default=0.8,
        metadata=about(
            "Probability of detecting the minimum detectable effect that a design is sized for.",
            "Cohen, 'Statistical Power Analysis for the Behavioral Sciences', 2nd ed., 1988: "
            "0.8 by convention",
        ),
    )
    srm_threshold: float = field(
        default=0.001,
        metadata=about(
            "p-value of the sample-ratio chi-square test below which keepwise warns that the split "
            "is broken.",
            "Fabijan et al., 'Diagnosing Sample Ratio Mismatch in Online Controlled Experiments', KDD 2019 "
            "(they use 0.0005; 0.001 is a common choice)",
        ),
    )
