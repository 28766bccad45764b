"""The README's Layout section names every module, script and test helper in the tree, so a
new file cannot go undocumented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = (
    "u2net",
    "client",
    "convert",
    "web",
    "server",
    "doctor",
    "convert/trt",
    "bench",
    "scripts",
)


def _layout() -> str:
    text = (ROOT / "README.md").read_text()
    return re.search(r"^## Layout\n(.*?)(?=^## |\Z)", text, re.S | re.M).group(1)


def _files() -> list[str]:
    found = [p for folder in FOLDERS for p in (ROOT / folder).glob("*.py")]
    found += [p for p in (ROOT / "tests").glob("*.py") if not p.name.startswith("test_")]
    found += list((ROOT / "examples").glob("*.*"))
    skipped = {"__init__.py", "__main__.py", "conftest.py"}
    return sorted(str(p.relative_to(ROOT)) for p in found if p.name not in skipped)


@pytest.mark.parametrize("path", _files())
def test_the_layout_names_the_file(path: str) -> None:
    assert Path(path).name in _layout(), f"README's Layout does not mention {path}"
