"""The checkout works wherever it is cloned: no tracked symbolic link points outside it (one
committed link to a machine's own venv once broke the benches on every fresh clone)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tracked_links() -> list[Path]:
    """Every tracked file whose git mode is a symbolic link (120000)."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (FileNotFoundError, subprocess.CalledProcessError) as e:
        pytest.skip(f"not a git checkout with git installed: {e}")
    entries = (line.split("\t", 1) for line in listing.splitlines())
    return [ROOT / path for meta, path in entries if meta.startswith("120000 ")]


def _escapes(link: Path, root: Path) -> bool:
    target = Path(os.readlink(link))
    resolved = (link.parent / target).resolve() if not target.is_absolute() else target
    return target.is_absolute() or not resolved.is_relative_to(root.resolve())


def test_no_tracked_link_points_outside_the_checkout() -> None:
    escaping = [str(p.relative_to(ROOT)) for p in _tracked_links() if _escapes(p, ROOT)]
    assert escaping == []


def test_the_rule_sees_an_escaping_link(tmp_path: Path) -> None:
    (tmp_path / "inside").write_text("")
    (tmp_path / "ok").symlink_to("inside")
    (tmp_path / "absolute").symlink_to("/work/rembg-venv")
    (tmp_path / "up").symlink_to("../elsewhere")
    found = {p.name: _escapes(p, tmp_path) for p in tmp_path.iterdir() if p.is_symlink()}
    assert found == {"ok": False, "absolute": True, "up": True}
