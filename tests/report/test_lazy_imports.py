"""The review loads only what it uses: no conjoint package (scipy.stats, samplers) without a saved study."""

from __future__ import annotations

import subprocess
import sys

from keepwise.conjoint.store import STUDIES
from keepwise.report.sections import conjoint as conjoint_section


def test_the_section_names_the_studies_table_as_the_conjoint_store_does():
    assert conjoint_section.STUDIES == STUDIES


def test_a_review_without_a_study_never_imports_the_conjoint_package(tmp_path):
    code = f"""
import sys
from keepwise.datasets.simulate import simulate
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order
biz = simulate(customers=120, months=14, seed=5)
store = connect("duckdb:///{tmp_path}/s.duckdb")
for name in load_order():
    frame = getattr(biz, name, None)
    if frame is not None and len(frame):
        load_frame(store, name, frame)
from keepwise.review import run_review
review = run_review(store, "2025-01")
assert review.section("profitability") is not None
loaded = sorted(m for m in sys.modules if m.startswith(("keepwise.conjoint", "scipy.stats")))
print(",".join(loaded))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""
