"""The review report as a PDF: its HTML (charts and all) printed to A4 by a headless Chromium.

The report's print stylesheet lays it out for paper (a page per section, charts the width of the page); the
browser runs the report's Plotly before printing (``--virtual-time-budget``), so the charts are in the PDF.
Without Chromium the error says how to get it, or to print the dashboard's ``/?print=1`` from a browser.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from keepwise.exceptions import BadInput, KeepwiseError

__all__ = ["BROWSERS", "chromium", "print_pdf"]

#: Names a Chromium browser goes by, looked up on the PATH in this order.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Window the report is drawn in before printing: about the width of an A4 page less its margins, in CSS px.
WINDOW = "700,990"

#: How long the browser may take to draw and print the report (seconds).
TIMEOUT = 180


def chromium() -> str:
    """The Chromium (or Chrome) on the PATH; otherwise a one-line error saying how to get one."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    raise BadInput(
        "pdf",
        "printing the report needs Chromium, which is not on the PATH: install it (e.g. apt-get install "
        "chromium), or open the dashboard's /?print=1 in a browser and use its Print",
    )


def print_pdf(html: Path, pdf: Path, browser: str | None = None) -> Path:
    """Print the HTML file ``html`` to the PDF file ``pdf`` (A4) with a headless Chromium; return ``pdf``.

    Parameters
    ----------
    html:
        A self-contained report (:func:`keepwise.report.write_report`): plotly.js inline, nothing fetched.
    pdf:
        Where to write the PDF (its folder must exist).
    browser:
        The browser to run (default: :func:`chromium`).
    """
    exe = browser or chromium()
    out = Path(pdf).resolve()
    with tempfile.TemporaryDirectory(prefix="keepwise-pdf-") as profile:
        command = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW}",
            "--virtual-time-budget=20000",
            "--no-pdf-header-footer",
            f"--print-to-pdf={out}",
            Path(html).resolve().as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise KeepwiseError(f"Chromium did not print the report within {TIMEOUT} seconds") from None
    if not out.exists() or out.read_bytes()[:4] != b"%PDF":
        said = [line for line in (done.stderr or "").splitlines() if line.strip()]
        raise KeepwiseError(
            f"Chromium did not write the PDF (exit {done.returncode}){': ' + said[-1] if said else ''}"
        )
    return out
