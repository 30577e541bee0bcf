"""mkdocs hooks of keepwise's documentation site: pages generated from the code, README sections placed.

So that the site never drifts from the code or repeats the README:

- ``commands.md``: the ``--help`` of every command and subcommand, rendered from the Typer app;
- ``assumptions.md``: every setting of ``keepwise.toml``, its default, meaning and source, from
  ``keepwise.config`` (one dataclass per section, each field declared with ``about(doc, source)``);
- ``api.md``: the public names of ``import keepwise`` (``keepwise._EXPORTS``), each documented from its
  docstring by mkdocstrings;
- a line ``<!-- readme: Section title -->`` in a page is replaced by that ``##`` section of README.md, with
  its links made to work on the site (``docs/x.md`` -> ``x.md``, ``#anchor`` -> the page holding it, a
  file of the repository outside docs/ -> its path as code). README's data contract section is itself
  generated from ``keepwise.store.schema`` (tests/test_docs.py checks it).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
if str(SRC) not in sys.path:  # document this checkout's code, installed or not
    sys.path.insert(0, str(SRC))

README_MARK = re.compile(r"^<!-- readme: (?P<title>.+?) -->\s*$", re.MULTILINE)
#: Width of the rendered ``--help`` (a terminal's; the site's code blocks show about 80 characters).
HELP_WIDTH = 80
#: A reStructuredText role before inline code, as mkdocstrings renders a docstring's ``:func:`x```.
ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj|py:\w+):<code>~?")


# ---------------------------------------------------------------------------------------------- README
def readme_sections() -> dict[str, str]:
    """README.md's ``##`` sections by title (the text under each heading, the heading itself included)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    sections: dict[str, str] = {}
    parts = re.split(r"^(?=## )", text, flags=re.MULTILINE)
    sections["(top)"] = parts[0].split("\n", 1)[1] if parts[0].startswith("# ") else parts[0]
    for part in parts[1:]:
        title = part.split("\n", 1)[0][3:].strip()
        sections[title] = part
    return sections


def slug(title: str) -> str:
    """The anchor mkdocs (Python-Markdown's toc) gives a heading."""
    text = re.sub(r"[^\w\s-]", "", title.lower()).strip()
    return re.sub(r"[-\s]+", "-", text)


def placed_sections(pages: dict[str, str]) -> dict[str, str]:
    """Anchor of every heading of every README section placed in a page -> where it is on the site.

    ``pages`` maps each page's path to its markdown (the files of docs/ and the generated pages). A section
    whose title is the page's own title is the page (``spark.md``), any other heading is ``page.md#anchor``.
    """
    sections = readme_sections()
    where: dict[str, str] = {}
    for path, text in sorted(pages.items()):
        for mark in README_MARK.finditer(text):
            title = mark["title"]
            for heading in re.findall(r"^#{2,6} (.+)$", sections.get(title, ""), flags=re.MULTILINE):
                own = heading == title == _page_title(text)
                where[slug(heading)] = path if own else f"{path}#{slug(heading)}"
    return where


def place_readme(markdown: str, page_path: str, anchors: dict[str, str]) -> str:
    """``markdown`` with every ``<!-- readme: Title -->`` line replaced by README's section ``Title``.

    The section's own heading is left out when it repeats the page's title.
    """
    if not README_MARK.search(markdown):
        return markdown
    sections = readme_sections()
    page_title = _page_title(markdown)

    def section(mark: re.Match[str]) -> str:
        title = mark["title"]
        if title not in sections:
            raise KeyError(f"{page_path}: README.md has no section '## {title}' (known: {', '.join(sections)})")
        text = sections[title]
        if title == page_title:
            text = text.split("\n", 1)[1]
        return _site_links(text, page_path, anchors)

    return README_MARK.sub(section, markdown)


def _page_title(markdown: str) -> str | None:
    found = re.search(r"^# (.+)$", markdown, flags=re.MULTILINE)
    return found[1].strip() if found else None


def _site_links(text: str, page_path: str, anchors: dict[str, str]) -> str:
    def link(m: re.Match[str]) -> str:
        label, target = m["label"], m["target"]
        if target.startswith("docs/"):
            target = target[len("docs/") :]
        elif target.startswith("#"):
            home = anchors.get(target[1:])
            if home is not None and not home.startswith(f"{page_path}#"):
                target = home
        elif not re.match(r"^[a-z]+:", target):  # a file of the repository the site does not hold
            return f"{label} (`{target}` in the repository)"
        return f"[{label}]({target})"

    return re.sub(r"\[(?P<label>[^\]]*)\]\((?P<target>[^)\s]+)\)", link, text)


# ------------------------------------------------------------------------------------------- commands
def commands_page() -> str:
    """The command reference: each command's ``--help`` exactly as the terminal shows it."""
    from typer.main import get_command
    from typer.testing import CliRunner

    from keepwise.cli import app

    runner = CliRunner()
    lines = [
        "# Commands",
        "",
        "Every command and subcommand of `keepwise`, with its `--help` as the terminal shows it. This page is",
        "generated from the command-line app when the site is built (`docs/_hooks/keepwise_docs.py`), so it",
        "always matches the installed version. Every command that prints results takes `--json`; exit codes:",
        "0 success, 2 bad input (one line saying what to fix), 1 an internal failure (and 75 for",
        "`keepwise run` when another run holds the store: see [Operations](operations.md)).",
        "",
    ]
    for path in _command_paths(get_command(app), []):
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": str(HELP_WIDTH)}, terminal_width=HELP_WIDTH)
        if result.exit_code != 0:
            raise RuntimeError(f"keepwise {' '.join(path)} --help failed: {result.output}")
        text = "\n".join(line.rstrip() for line in result.output.strip("\n").splitlines())
        depth = "##" if len(path) <= 1 else "###"
        lines += [f"{depth} keepwise {' '.join(path)}".rstrip(), "", "```text", text, "```", ""]
    return "\n".join(lines)


def _command_paths(command: Any, path: list[str]) -> list[list[str]]:
    import click

    found = [path]
    if hasattr(command, "list_commands"):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            found += _command_paths(command.get_command(ctx, name), [*path, name])
    return found


# ---------------------------------------------------------------------------------------- assumptions
def assumptions_page() -> str:
    """Every setting of ``keepwise.toml`` by section: key, default, what it means, where the default comes from."""
    from keepwise.config.fields import HOME
    from keepwise.config.loading import _SECTIONS

    lines = [
        "# Assumptions and their sources",
        "",
        "Figures a business may not know (a discount rate, how many people an unhappy customer tells, win-back",
        "rates) and the settings of sending and the dashboard live in `keepwise.toml` in the working directory.",
        "Each has a documented default and the source of that default; every report lists the ones it used.",
        "A missing file gives the defaults below; an unknown key or a value of the wrong kind is an error",
        "naming the key. This page is generated from `keepwise.config` (one module per section) when the site",
        "is built.",
        "",
        "```toml",
        "# keepwise.toml",
        "[clv]",
        "discount_rate = 0.1",
        "",
        "[messages]",
        'business_name = "Kawa & Co"',
        "```",
        "",
    ]
    for name, cls in sorted(_SECTIONS.items()):
        doc = _markdown(inspect.getdoc(cls) or "")
        lines += [f"## [{name}]", "", doc, "", "| key | default | what it is | source |", "|---|---|---|---|"]
        for f in dataclasses.fields(cls):
            if HOME in f.metadata:
                home = f.metadata[HOME]
                section, key = home.split(".", 1)
                about = f"the same figure as `[{section}] {key}` (set it there)"
                lines.append(f"| `{f.name}` | | {about} | |")
                continue
            if "doc" not in f.metadata:
                continue
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            lines.append(
                f"| `{f.name}` | {_cell(_toml(default))} | {_cell(f.metadata['doc'])} | {_cell(f.metadata['source'])} |"
            )
        lines.append("")
    return "\n".join(lines)


def _toml(value: Any) -> str:
    from decimal import Decimal

    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return f'`"{value}"`' if value else '`""`'
    if isinstance(value, Decimal | int | float):
        return f"`{value}`"
    if isinstance(value, dict):
        if not value:
            return "`{}`"
        inner = ", ".join(f"{k} = {_toml(v).strip('`')}" for k, v in value.items())
        return f"`{{{inner}}}`"
    if isinstance(value, list | tuple):
        return "`[" + ", ".join(_toml(v).strip("`") for v in value) + "]`"
    return f"`{value}`"


def _cell(text: str) -> str:
    return _markdown(str(text)).replace("|", "\\|").replace("\n", " ")


def _markdown(text: str) -> str:
    """reStructuredText roles of a docstring (``:mod:`x```, ````x````) as Markdown code (```x```)."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


# ------------------------------------------------------------------------------------------------ API
def api_page() -> str:
    """The names ``import keepwise`` offers, each documented from its docstring (mkdocstrings)."""
    import keepwise

    exports: dict[str, tuple[str, str]] = keepwise._EXPORTS
    lines = [
        "# The Python API",
        "",
        "<!-- readme: In a notebook: the Python API -->",
        "",
        "## Reference",
        "",
        "The names below are what `import keepwise` offers (imported when first used). Each is documented",
        "from its docstring; the stage behind each is described in [Where each step lives](architecture.md).",
        "",
    ]
    for name, (module, attribute) in exports.items():
        lines += [f"### keepwise.{name}", "", f"`{module}.{attribute}`", "", f"::: {module}.{attribute}"]
        if name in _LENIENT:  # a paragraph after its Parameters section reads to griffe as more parameters
            lines += ["    options:", "      docstring_options:", "        warn_unknown_params: false", "        warn_missing_types: false"]
        lines.append("")
    return "\n".join(lines)


#: Names whose docstring griffe misreads (a paragraph after "Parameters" taken for parameters): their
#: unknown-parameter check is off; everywhere else a documented parameter the signature lacks fails the build.
_LENIENT = frozenset({"Store"})


GENERATED = {
    "commands.md": commands_page,
    "assumptions.md": assumptions_page,
    "api.md": api_page,
}


# ---------------------------------------------------------------------------------------------- hooks
#: Where each README heading was placed (computed once per build, in :func:`on_files`).
_ANCHORS: dict[str, str] = {}


def on_files(files: Any, config: Any) -> Any:
    """Add the generated pages to the site, and note which page holds each README section."""
    from mkdocs.structure.files import File

    made = {name: make() for name, make in GENERATED.items()}
    for name, content in made.items():
        files.append(File.generated(config, name, content=content))
    docs_dir = Path(config["docs_dir"])
    pages = {p.relative_to(docs_dir).as_posix(): p.read_text(encoding="utf-8") for p in docs_dir.rglob("*.md")}
    _ANCHORS.clear()
    _ANCHORS.update(placed_sections({**pages, **made}))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Place the README sections a page names; unescape pipes in the code of table cells."""
    return table_pipes(place_readme(markdown, page.file.src_uri, _ANCHORS))


def table_pipes(markdown: str) -> str:
    """``\\|`` inside inline code in a table row as ``|``.

    GitHub needs the backslash there; Python-Markdown keeps a code span whole and would show it.
    """

    def row(line: str) -> str:
        if not line.lstrip().startswith("|"):
            return line
        return re.sub(r"`[^`]*`", lambda m: m[0].replace("\\|", "|"), line)

    return "\n".join(row(line) for line in markdown.split("\n"))


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """Drop the reStructuredText roles docstrings use (``:func:``, ``:class:``) from the rendered API."""
    return ROLE.sub("<code>", html)
