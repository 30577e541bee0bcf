"""``keepwise review``: the monthly retention review as headlines, JSON, an HTML report and a PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keepwise.commands.common import DbOption, JsonOption, err, out, print_json
from keepwise.store.connection import DEFAULT_URL, connect

MonthOption = Annotated[
    str | None,
    typer.Option(
        "--month",
        help="Month to review, YYYY-MM (default: the last complete month of the data, said in the notes).",
    ),
]
HtmlOption = Annotated[
    Path | None,
    typer.Option("--html", help="Write the report to this HTML file (default: review-YYYY-MM.html)."),
]

PdfOption = Annotated[
    Path | None,
    typer.Option(
        "--pdf",
        help="Also print the report, charts included, to this PDF file (A4; needs Chromium on the PATH).",
    ),
]


def review(
    month: MonthOption = None,
    json_: JsonOption = False,
    html: HtmlOption = None,
    pdf: PdfOption = None,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Review one month: warning signs, customers lost and what it cost, retention; write the HTML report."""
    from keepwise.report import check_report_path, write_report
    from keepwise.report.pdf import chromium, print_pdf
    from keepwise.review import run_review

    if html is not None:
        check_report_path(html)  # before the work, so a typo costs nothing
    browser = None
    if pdf is not None:
        check_report_path(pdf)
        browser = chromium()  # no browser: say so before the work
    backend = connect(db)
    try:
        result = run_review(backend, month)
    finally:
        backend.disconnect()
    path = write_report(result, html or Path(f"review-{result.period.month}.html"))
    printed = print_pdf(path, pdf, browser) if pdf is not None else None
    if json_:
        doc = result.to_json()
        doc["report"] = str(path)
        if printed is not None:
            doc["pdf"] = str(printed)
        print_json(doc)
        return
    out.print(f"[bold]Retention review {result.period.month}[/bold]")
    for line in result.headlines:
        out.print(f"  • {line}", highlight=False)
    for note in result.note_lines:
        err.print(f"note: {note}", highlight=False)
    out.print(f"Report: {path}", highlight=False)
    if printed is not None:
        out.print(f"PDF: {printed}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("review")(review)
