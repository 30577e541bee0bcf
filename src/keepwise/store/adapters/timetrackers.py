"""Detailed time reports of Toggl Track, Harvest and Clockify -> ``time_logs`` (and Harvest's cost rates).

All three write local times without a zone, so an import needs the zone (``--timezone`` or ``[import]
timezone``). Each entry's client is matched to a customer (by a client name linked before, or a customer
whose name or id it is, ignoring case and spacing); an entry without a client is internal time and is left
out (counted), an entry whose client matches no customer is reported. Entries of one person for one client
starting at the same time (Harvest has dates only: the same day) are one row with their minutes added up.
"""

from __future__ import annotations

import pandas as pd

from keepwise.store.adapters.base import ROW, Adapter, Context, Mapped
from keepwise.store.adapters.values import (
    as_utc,
    blank,
    durations_minutes,
    local_times,
    money,
    normal_email,
)

__all__ = ["CLOCKIFY", "HARVEST", "TOGGL"]


def _entries(
    f: pd.DataFrame,
    out: Mapped,
    started: pd.Series,
    minutes: pd.Series,
    staff: pd.Series,
    activity: pd.Series,
) -> None:
    """Time entries with a client, as ``time_logs`` rows; the others are counted as internal time."""
    no_client = blank(f["Client"]).to_numpy()
    out.skip("time entries without a client (internal time)", int(no_client.sum()))
    keep = ~no_client
    out.tables["time_logs"] = pd.DataFrame(
        {
            "staff_id": staff[keep],
            "started_at": as_utc(started[keep]),
            "minutes": minutes[keep].round(4),
            "activity": activity[keep].where(activity[keep] != "", None),
            ROW: f[ROW][keep],
            "_email": "",
            "_ext": "",
            "_client": f["Client"][keep],
            "_name": f["Client"][keep],
        }
    ).reset_index(drop=True)


def _staff(f: pd.DataFrame, email: str, name: str) -> pd.Series:
    mail = normal_email(f[email]) if email in f.columns else pd.Series("", index=f.index)
    return mail.where(mail != "", f[name].str.strip())


def map_toggl(frame: pd.DataFrame, ctx: Context) -> Mapped:
    """Map a Toggl Track detailed report (CSV)."""
    out = Mapped()
    started = local_times(frame, "Start date", "Start time", ctx.name, ctx.timezone, ctx.date_format)
    minutes = durations_minutes(frame, "Duration", ctx.name)
    activity = frame["Task"].where(~blank(frame["Task"]), frame["Project"])
    _entries(frame, out, started, minutes, _staff(frame, "Email", "User"), activity)
    out.columns["time_logs"] = {
        "staff_id": "Email",
        "started_at": "Start date",
        "minutes": "Duration",
        "_client": "Client",
    }
    return out


def map_clockify(frame: pd.DataFrame, ctx: Context) -> Mapped:
    """Map a Clockify detailed report (CSV); dates follow the workspace's format, e.g. DD/MM/YYYY."""
    out = Mapped()
    started = local_times(frame, "Start Date", "Start Time", ctx.name, ctx.timezone, ctx.date_format)
    exact = ~blank(frame["Duration (h)"])
    minutes = durations_minutes(
        frame.assign(**{"Duration (h)": frame["Duration (h)"].where(exact, "0")}), "Duration (h)", ctx.name
    )
    if not bool(exact.all()):
        decimal = durations_minutes(frame[~exact], "Duration (decimal)", ctx.name, hours=True)
        minutes[~exact] = decimal
    activity = frame["Task"].where(~blank(frame["Task"]), frame["Project"])
    _entries(frame, out, started, minutes, _staff(frame, "Email", "User"), activity)
    out.columns["time_logs"] = {
        "staff_id": "Email",
        "started_at": "Start Date",
        "minutes": "Duration (h)",
        "_client": "Client",
    }
    return out


def map_harvest(frame: pd.DataFrame, ctx: Context) -> Mapped:
    """Map a Harvest detailed time report (CSV): dates only, hours as decimals (a decimal comma is read)."""
    out = Mapped()
    started = local_times(frame, "Date", None, ctx.name, ctx.timezone, ctx.date_format)
    minutes = durations_minutes(frame, "Hours", ctx.name, hours=True)
    staff = (frame["First Name"] + " " + frame["Last Name"]).str.strip()
    _entries(
        frame, out, started, minutes, staff, frame["Task"].where(~blank(frame["Task"]), frame["Project"])
    )
    out.columns["time_logs"] = {
        "staff_id": "First Name",
        "started_at": "Date",
        "minutes": "Hours",
        "_client": "Client",
    }
    costed = ~blank(frame["Cost Rate"])
    if bool(costed.any()):
        f = frame[costed]
        rates = pd.DataFrame(
            {
                "staff_id": staff[costed],
                "role": f["Roles"].where(~blank(f["Roles"]), None),
                "hourly_cost": money(f, "Cost Rate", ctx.name).round(4),
                "currency": f["Currency"].str.extract(r"([A-Za-z]{3})\s*$")[0].str.upper(),
                "valid_from": as_utc(started[costed]),
                ROW: f[ROW],
            }
        )
        out.tables["staff_rates"] = (
            rates.sort_values("valid_from").drop_duplicates("staff_id").reset_index(drop=True)
        )
        out.columns["staff_rates"] = {
            "hourly_cost": "Cost Rate",
            "currency": "Currency",
            "valid_from": "Date",
        }
    return out


TOGGL = Adapter(
    name="toggl",
    title="Toggl Track detailed report",
    where="Toggl Track > Reports > Detailed > Export > Download CSV",
    required=(("Start date",), ("Start time",), ("Duration",), ("Client",), ("Email", "User")),
    signature=(
        "User",
        "Email",
        "Client",
        "Project",
        "Task",
        "Description",
        "Billable",
        "Start date",
        "Start time",
        "End date",
        "End time",
        "Duration",
        "Tags",
    ),
    reads=(
        "User",
        "Email",
        "Client",
        "Project",
        "Task",
        "Description",
        "Start date",
        "Start time",
        "Duration",
    ),
    map=map_toggl,
    creates_customers=False,
    needs_timezone=True,
)

CLOCKIFY = Adapter(
    name="clockify",
    title="Clockify detailed report",
    where="Clockify > Reports > Detailed > Export > Save as CSV",
    required=(
        ("Start Date",),
        ("Start Time",),
        ("Duration (h)", "Duration (decimal)"),
        ("Client",),
        ("Email", "User"),
    ),
    signature=(
        "Project",
        "Client",
        "Description",
        "Task",
        "User",
        "Group",
        "Email",
        "Tags",
        "Billable",
        "Start Date",
        "Start Time",
        "End Date",
        "End Time",
        "Duration (h)",
        "Duration (decimal)",
    ),
    reads=(
        "Project",
        "Client",
        "Description",
        "Task",
        "User",
        "Email",
        "Start Date",
        "Start Time",
        "Duration (h)",
        "Duration (decimal)",
    ),
    map=map_clockify,
    creates_customers=False,
    needs_timezone=True,
)

HARVEST = Adapter(
    name="harvest",
    title="Harvest detailed time report",
    where="Harvest > Reports > Detailed time > Export > CSV",
    required=(("Date",), ("Client",), ("Hours",), ("First Name",), ("Last Name",)),
    signature=(
        "Date",
        "Client",
        "Project",
        "Project Code",
        "Task",
        "Notes",
        "Hours",
        "Hours Rounded",
        "Billable?",
        "Invoiced?",
        "First Name",
        "Last Name",
        "Roles",
        "Cost Rate",
        "Currency",
    ),
    reads=(
        "Date",
        "Client",
        "Project",
        "Task",
        "Notes",
        "Hours",
        "First Name",
        "Last Name",
        "Roles",
        "Cost Rate",
        "Currency",
    ),
    map=map_harvest,
    creates_customers=False,
    needs_timezone=True,
)
