"""The schedule examples (cron, systemd) name keepwise commands and options that exist, and document them."""

from __future__ import annotations

from pathlib import Path

import pytest
from ops_kit import check_command, files_under, keepwise_commands

from keepwise.cli import app

ROOT = Path(__file__).resolve().parents[2]
SCHEDULES = ROOT / "examples" / "schedules"


@pytest.mark.parametrize("path", files_under(SCHEDULES), ids=lambda p: p.name)
def test_every_keepwise_command_in_the_schedules_exists(path: Path) -> None:
    commands = keepwise_commands(path.read_text(encoding="utf-8"))
    if path.suffix == ".timer":
        assert commands == []  # a timer names its service, not a command
        return
    assert commands, f"{path.name} runs no keepwise command"
    for args in commands:
        check_command(app, args)


def test_the_schedules_run_the_daily_flows_and_sends_and_the_monthly_run() -> None:
    cron = keepwise_commands((SCHEDULES / "crontab").read_text(encoding="utf-8"))
    assert [c[:2] for c in cron] == [["flows", "run"], ["messages", "send"], ["run"]]
    daily = keepwise_commands((SCHEDULES / "systemd" / "keepwise-daily.service").read_text(encoding="utf-8"))
    monthly = keepwise_commands(
        (SCHEDULES / "systemd" / "keepwise-monthly.service").read_text(encoding="utf-8")
    )
    assert daily == [["flows", "run"], ["messages", "send"]] and monthly == [["run"]]


def test_the_checker_catches_a_command_or_an_option_that_does_not_exist() -> None:
    with pytest.raises(AssertionError, match="keepwise flow is not a keepwise command"):
        check_command(app, ["flow", "run"])
    with pytest.raises(Exception, match="No such option: --monht"):
        check_command(app, ["run", "--monht", "2025-01"])
    assert keepwise_commands("15 6 * * * . /etc/env; /usr/local/bin/keepwise run --dry-run && echo ok") == [
        ["run", "--dry-run"]
    ]


def test_operations_doc_names_the_exit_codes_the_lock_and_the_examples() -> None:
    from keepwise.operations import EXIT_BUSY, EXIT_FAILED, EXIT_USER

    doc = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for code in (EXIT_FAILED, EXIT_USER, EXIT_BUSY):
        assert f"| {code} |" in doc
    for name in (
        "examples/schedules/crontab",
        "keepwise-daily.timer",
        "keepwise-monthly.timer",
        "`run` lock",
    ):
        assert name in doc
