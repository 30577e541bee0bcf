"""``flows run`` then ``messages send`` to a loopback SMTP server: batched (this tree) against a base tree.

Run: ``.venv/bin/python bench/messages.py [--customers 3000] [--base /path/to/old/src] [--pipelining]``.

One simulated store (``--customers``, 24 months, seed 7) is copied for each side; an aiosmtpd server runs in
a subprocess on loopback (so its work is not counted in a side's CPU). Each side runs in its own process with
its own sources first on the path (``--base``: a worktree of the old code, e.g. ``git worktree add --detach
/tmp/base main`` then ``--base /tmp/base/src``), as of the data's last day, with ``send_interval_seconds =
0`` (the default throttle of 0.2 s holds a real relay to 5 messages a second on purpose; a loopback server
needs none). Each side: the flows' audience alone (``due``, the same code on both sides, timed to be
subtracted: the win-back offers are the decisions stage's work), ``flows.run(send=False)`` (choose, compose,
queue), then ``send.run`` (permission, SMTP, statuses). Prints wall and CPU seconds, messages a second, and
checks that both sides queued the same rows, the same MIME text (up to the random MIME boundary) and that the
server received each sent message once. ``--pipelining`` makes the server offer PIPELINING (aiosmtpd reads
pipelined commands in order but does not advertise it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-0123456789abcdef"

SERVER = r"""
import sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

pipelining = sys.argv[2] == "1"
ids = []
lock = threading.Lock()

class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server, session, envelope):
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                with lock:
                    ids.append(line.split(b":", 1)[1].strip().decode())
                break
        return "250 OK"

controller = Controller(Handler(), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
for line in sys.stdin:
    with lock:
        print(" ".join(ids), flush=True)
        ids.clear()
controller.stop()
"""

SIDE = r"""
import json, os, sys, time
from dataclasses import replace
from datetime import datetime, time as dtime, UTC
from decimal import Decimal

from keepwise.config import Config, MessagesAssumptions
from keepwise.messages import flows, send
from keepwise.store import connect

url, port = sys.argv[1], sys.argv[2]
store = connect(url)
last = store.sql("SELECT max(ordered_at) FROM orders")[0][0]
at = datetime.combine(last.date(), dtime.max, tzinfo=UTC)
config = Config(messages=replace(MessagesAssumptions(), send_interval_seconds=Decimal("0")))

def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu

spent = {"wall": 0.0, "cpu": 0.0, "n": 0}
choose = flows.due

def due(*args, **kwargs):  # the audience, timed inside flows.run (the decisions stage's work)
    out, wall, cpu = timed(lambda: choose(*args, **kwargs))
    spent["wall"] += wall
    spent["cpu"] += cpu
    spent["n"] = len(out)
    return out

flows.due = due
run, queue_wall, queue_cpu = timed(lambda: flows.run(store, as_of=at, config=config, send=False))
due_wall, due_cpu = spent["wall"], spent["cpu"]
sent, send_wall, send_cpu = timed(
    lambda: send.run(store, config=config, smtp=f"127.0.0.1:{port}", clock=lambda: at)
)
store.disconnect()
print(json.dumps({
    "due": spent["n"], "queued": run.queued, "held_out": run.held_out, "sent": sent.sent,
    "suppressed": sent.suppressed, "failed": sent.failed,
    "due_wall": due_wall, "due_cpu": due_cpu, "queue_wall": queue_wall, "queue_cpu": queue_cpu,
    "send_wall": send_wall, "send_cpu": send_cpu,
}))
"""


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_store(folder: Path, customers: int) -> Path:
    """Simulate and load the demo store once; returns the DuckDB file."""
    db = folder / "template.duckdb"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cli = [sys.executable, "-m", "keepwise.cli"]
    out = folder / "demo"
    subprocess.run([*cli, "simulate", "--customers", str(customers), "--months", "24", "--seed", "7", "--out",
                    str(out)], check=True, env=env, capture_output=True)  # fmt: skip
    subprocess.run(
        [*cli, "load", str(out), "--db", f"duckdb:///{db}"], check=True, env=env, capture_output=True
    )
    return db


def run_side(src: Path, db: Path, port: int) -> dict[str, float]:
    """One side in its own process with ``src`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src), "KEEPWISE_SECRET": SECRET}
    done = subprocess.run([sys.executable, "-c", SIDE, f"duckdb:///{db}", str(port)], env=env,
                          capture_output=True, text=True, cwd=db.parent)  # fmt: skip
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def contents(db: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[tuple[str, str]]]:
    """Outbox rows, assignments, and MIME texts with the random MIME boundary masked."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        outbox = con.execute(
            "SELECT message_id, idempotency_key, customer_id, template, status, attempts, sent_at, kind, "
            "cause, recipient, language, subject, queued_at, confirmed, error FROM outbox ORDER BY message_id"
        ).fetchall()
        arms = con.execute("SELECT * FROM assignments ORDER BY experiment_id, customer_id").fetchall()
        bodies = con.execute("SELECT message_id, mime FROM message_bodies ORDER BY message_id").fetchall()
    finally:
        con.close()
    masked = [(m, re.sub(r"={15}\d+==", "=BOUNDARY=", b)) for m, b in bodies]
    return outbox, arms, masked


def main() -> None:
    """Run both sides side by side and print the Markdown table for bench/RESULTS.md."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--base", type=Path, default=None, help="src/ of the old code (a worktree of main)")
    parser.add_argument("--pipelining", action="store_true", help="the server offers PIPELINING")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kw-bench-messages-"))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), "1" if args.pipelining else "0"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert server.stdout is not None and server.stdin is not None
        assert server.stdout.readline().strip() == "ready"
        template = make_store(folder, args.customers)
        sides = [("batched (this tree)", ROOT / "src")]
        if args.base is not None:
            sides.insert(0, ("per message (base)", args.base))
        rows, received, stored = [], [], []
        for name, src in sides:
            db = folder / f"{len(rows)}.duckdb"
            shutil.copy(template, db)
            started = time.perf_counter()
            figures = run_side(src, db, port)
            figures["total_wall"] = time.perf_counter() - started
            server.stdin.write("report\n")
            server.stdin.flush()
            ids = server.stdout.readline().split()
            rows.append((name, figures))
            received.append(ids)
            stored.append(contents(db))
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.customers:,} customers, 24 months, seed 7; server offers PIPELINING: {args.pipelining}\n")
    print("| side | queued | sent | audience CPU (s) | queue wall / CPU (s) | send wall / CPU (s) | "
          "queue + send msg/s (wall) | CPU ms per message |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, f in rows:
        queue_only = max(f["queue_wall"] - f["due_wall"], 1e-9)
        cpu = f["queue_cpu"] - f["due_cpu"] + f["send_cpu"]
        rate = f["queued"] / (queue_only + f["send_wall"])
        queue_cpu = f["queue_cpu"] - f["due_cpu"]
        print(f"| {name} | {f['queued']:,} | {f['sent']:,} | {f['due_cpu']:.1f} | {queue_only:.1f} / "
              f"{queue_cpu:.1f} | {f['send_wall']:.1f} / {f['send_cpu']:.1f} | {rate:.0f} | "
              f"{1000 * cpu / max(f['queued'], 1):.2f} |")  # fmt: skip
    if len(rows) == 2:
        (_, old), (_, new) = rows
        old_t = old["queue_wall"] - old["due_wall"] + old["send_wall"]
        new_t = new["queue_wall"] - new["due_wall"] + new["send_wall"]
        old_c = old["queue_cpu"] - old["due_cpu"] + old["send_cpu"]
        new_c = new["queue_cpu"] - new["due_cpu"] + new["send_cpu"]
        print(f"| ratio base / batched | | | | | | {old_t / new_t:.1f}x wall | {old_c / new_c:.1f}x CPU |")
        same = stored[0] == stored[1]
        print(f"\nsame outbox rows, assignments and MIME text (boundary masked) on both sides: {same}")
    for (name, f), ids in zip(rows, received, strict=True):
        once = len(ids) == len(set(ids)) == f["sent"]
        print(f"{name}: server received {len(ids):,} messages, each once and all recorded sent: {once}")


if __name__ == "__main__":
    main()
