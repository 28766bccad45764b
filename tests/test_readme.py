"""README.md and docs/: the README stays short with both commands near its top and links
every doc; every relative link in README.md and docs/*.md leads to a file that exists, and
every #anchor to a heading there; docs/architecture.md's Layout lists every module in the
tree by its full path, and nothing that is not there."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
ARCHITECTURE = DOCS / "architecture.md"
MARKDOWN = [README, *sorted(DOCS.glob("*.md"))]

README_MAX_LINES = 300
COMMANDS = ("make demo", "make test")
COMMANDS_WITHIN_LINES = 60

NOT_MODULES = {"__init__.py", "__main__.py", "conftest.py"}
NOT_SOURCE = {"__pycache__", "build", "dist", "node_modules", "out"}

FENCED = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
INLINE_CODE = re.compile(r"`+[^`\n]*`+")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose(path: Path) -> str:
    """The file without its fenced code blocks (links and headings there are not real)."""
    return FENCED.sub("", path.read_text())


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = "".join(ch for ch in heading.strip().lower() if ch.isalnum() or ch in " -_")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor; repeated headings get -1, -2, ... as on GitHub."""
    seen: Counter[str] = Counter()
    found = set()
    for heading in HEADING.findall(_prose(path)):
        base = slug(heading)
        found.add(base if seen[base] == 0 else f"{base}-{seen[base]}")
        seen[base] += 1
    return found


def relative_links(path: Path) -> list[str]:
    """Link and image targets that point into the checkout (not http:, mailto:, ...)."""
    text = INLINE_CODE.sub("", _prose(path))
    return [target for target in LINK.findall(text) if not SCHEME.match(target)]


def _links() -> list[tuple[str, str]]:
    return [(str(p.relative_to(ROOT)), target) for p in MARKDOWN for target in relative_links(p)]


@pytest.mark.parametrize(("source", "target"), _links())
def test_the_link_leads_somewhere(source: str, target: str) -> None:
    path_part, _, anchor = target.partition("#")
    origin = ROOT / source
    destination = (origin.parent / path_part).resolve() if path_part else origin
    assert destination.exists(), f"{source} links to {target}: no such file"
    if anchor:
        assert destination.suffix == ".md", f"{source} links to {target}: an anchor in a non-doc"
        assert anchor in anchors(destination), f"{source} links to {target}: no such heading"


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("`cutout`: the whole job inside Triton", "cutout-the-whole-job-inside-triton"),
        ("First: `python -m doctor`", "first-python--m-doctor"),
        ("The inner model's threads beside `cutout`", "the-inner-models-threads-beside-cutout"),
        ("U²-Net on Triton", "u²-net-on-triton"),
    ],
)
def test_slug_follows_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_relative_links_skip_code_and_urls(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "[a](a.md#x) ![b](img.png) [web](https://example.com) `[c](c.md)`\n"
        "```\n[d](d.md)\n# not a heading\n```\n# A heading\n## A heading\n"
    )
    assert relative_links(doc) == ["a.md#x", "img.png"]
    assert anchors(doc) == {"a-heading", "a-heading-1"}


def test_the_readme_is_short_with_both_commands_near_the_top() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES
    top = "\n".join(lines[:COMMANDS_WITHIN_LINES])
    assert [c for c in COMMANDS if c not in top] == []


def test_the_readme_links_every_doc() -> None:
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in relative_links(README)}
    assert [str(d.relative_to(ROOT)) for d in MARKDOWN[1:] if d.resolve() not in linked] == []


def _layout() -> list[str]:
    text = _prose(ARCHITECTURE)
    section = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, "docs/architecture.md has no '## Layout' section"
    return re.findall(r"^- `([^`]+)`", section.group(1), re.M)


def _modules() -> list[str]:
    """Every module in the tree: the Python files (tests' test_*.py aside) and the examples."""
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [
            d
            for d in subfolders
            if not d.startswith(".") and d not in NOT_SOURCE and not d.endswith(".egg-info")
        ]
        relative = Path(folder).relative_to(ROOT)
        for name in files:
            path = relative / name
            if path.parts[0] == "examples" or (
                name.endswith(".py")
                and name not in NOT_MODULES
                and not (path.parts[0] == "tests" and name.startswith("test_"))
            ):
                found.append(path.as_posix())
    return sorted(found)


@pytest.mark.parametrize("path", _modules())
def test_the_layout_lists_the_module(path: str) -> None:
    assert path in _layout(), f"docs/architecture.md's Layout does not list {path}"


@pytest.mark.parametrize("entry", _layout())
def test_the_listed_path_exists(entry: str) -> None:
    path = ROOT / entry
    assert path.is_dir() if entry.endswith("/") else path.is_file(), f"{entry} is not in the tree"


def test_the_layout_lists_each_path_once() -> None:
    assert [entry for entry, n in Counter(_layout()).items() if n > 1] == []
