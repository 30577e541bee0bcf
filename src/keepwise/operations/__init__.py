"""Running keepwise for real: the monthly run of the whole loop, and backups.

:func:`run` (``keepwise run``) calls each stage's front door in the loop's order for one month, records
each step's completion and the run itself in the store, and holds the store lock ``run`` so that two runs
never overlap.
"""

from keepwise.operations.run import (
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_USER,
    LOCK,
    RUN_STEPS,
    RUNS,
    STEPS,
    MonthlyRun,
    StepFailed,
    StepOutcome,
    last_run,
    parse_steps,
    run,
)

__all__ = [
    "EXIT_BUSY",
    "EXIT_FAILED",
    "EXIT_USER",
    "LOCK",
    "RUNS",
    "RUN_STEPS",
    "STEPS",
    "MonthlyRun",
    "StepFailed",
    "StepOutcome",
    "last_run",
    "parse_steps",
    "run",
]
