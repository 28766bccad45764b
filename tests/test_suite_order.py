"""The suite's schedule (tests/conftest.py): the files it hands out first are real test files,
so a file that moves keeps its place instead of silently falling back to collection order."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import LONGEST_FILES

ROOT = Path(__file__).resolve().parents[1]


def test_every_longest_file_is_a_test_file_of_the_suite() -> None:
    missing = [name for name in LONGEST_FILES if not (ROOT / name).is_file()]
    assert not missing, f"expected every file of LONGEST_FILES to exist, got moved: {missing}"
    assert all(Path(name).name.startswith("test_") for name in LONGEST_FILES)
