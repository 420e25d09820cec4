"""The repository's docs stand alone: no citation of the design note kept outside the repository,
no relative link to a file that is not there, no citation of a section the spec does not have.

Code and docs cite `docs/spec.md`, `docs/architecture.md`, `docs/deploy.md` and `README.md`
only; a reader of the repository has nothing else.
"""

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: where code, tests and docs live (tracked files only; node_modules excluded)
SCANNED_DIRS = (
    "registry",
    "anchoring",
    "api",
    "verifier",
    "tests",
    "bench",
    "docs",
    "contracts",
    "hardhat-node",
)
SCANNED_FILES = ("README.md", "Makefile")

# The design note's name, spelt so that this file neither matches itself nor cites it.
_NOTE = "DES" + "IGN"
FORBIDDEN = (_NOTE + " §", _NOTE + ".md")

#: `[text](target)`, and `src="…"` / `href="…"` of inline HTML
_MD_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HTML_LINK = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""")
_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)

#: "docs/spec.md §8.2", "`docs/spec.md` §7.6", "spec.md §2a"
_SPEC_CITATION = re.compile(r"(spec|deploy)\.md`?\)?,?\s+§\s*(\d+[a-z]?(?:\.\d+)*)")
_HEADING_NUMBER = re.compile(r"^#{1,6}\s+(\d+[a-z]?(?:\.\d+)*)\.?\s", re.MULTILINE)


def tracked_files() -> list[Path]:
    """The tracked files under the scanned folders, and the scanned top-level files."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--", *SCANNED_DIRS, *SCANNED_FILES],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        # Not a git checkout (e.g. an unpacked source archive): every file there.
        names = [
            str(p.relative_to(ROOT))
            for d in SCANNED_DIRS
            for p in (ROOT / d).rglob("*")
            if p.is_file()
        ] + [f for f in SCANNED_FILES if (ROOT / f).is_file()]
    paths = [ROOT / n for n in names if "node_modules" not in Path(n).parts]
    assert paths, "no files found: the test runs from the wrong place"
    return [p for p in paths if p.is_file()]


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def relative_links(text: str) -> Iterator[str]:
    """Link targets of a Markdown text, outside code blocks and code spans."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", text))
    for pattern in (_MD_LINK, _HTML_LINK):
        for match in pattern.finditer(prose):
            target = match.group(1)
            if not _EXTERNAL.match(target):
                yield target


def test_no_file_cites_the_design_note_outside_the_repository() -> None:
    found = []
    for path in tracked_files():
        text = path.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if any(needle in line for needle in FORBIDDEN):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not found, (
        "cite docs/spec.md or docs/architecture.md instead of the design note:\n" + "\n".join(found)
    )


def test_relative_links_in_the_docs_point_to_files_that_exist() -> None:
    broken = []
    for doc in markdown_files():
        for target in relative_links(doc.read_text(encoding="utf-8")):
            file_part = target.split("#", 1)[0].split("?", 1)[0]
            if file_part and not (doc.parent / file_part).exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target}")
    assert not broken, "links to files that do not exist:\n" + "\n".join(broken)


def _section_numbers(doc: Path) -> set[str]:
    return set(_HEADING_NUMBER.findall(doc.read_text(encoding="utf-8")))


def test_citations_of_the_spec_name_sections_it_has() -> None:
    sections = {
        "spec": _section_numbers(ROOT / "docs" / "spec.md"),
        "deploy": _section_numbers(ROOT / "docs" / "deploy.md"),
    }
    assert {"1", "8", "8.2", "9.4", "2a"} <= sections["spec"]
    wrong = []
    for path in tracked_files():
        if path.suffix not in {".py", ".md", ".sol", ".js"} and path.name != "Makefile":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in _SPEC_CITATION.finditer(text):
            doc, number = match.groups()
            if number not in sections[doc]:
                line = text.count("\n", 0, match.start()) + 1
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {doc}.md §{number}")
    assert not wrong, "citations of sections that do not exist:\n" + "\n".join(wrong)


@pytest.mark.parametrize(
    ("text", "links"),
    [
        (
            "see [spec](docs/spec.md#9-verdict) and [x](https://example.org)",
            ["docs/spec.md#9-verdict"],
        ),
        ('<img src="docs/img/a.png" width="3">', ["docs/img/a.png"]),
        ("`[not](a-link.md)` and\n```\n[nor](this.md)\n```\n", []),
        ("[anchor](#section) [mail](mailto:a@b.c)", []),
    ],
)
def test_relative_links_are_found(text: str, links: list[str]) -> None:
    assert list(relative_links(text)) == links
