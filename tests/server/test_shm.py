"""Which shared-memory regions a server removes: its own after Triton, and the stale ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from server import shm


def _finished_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


def _regions(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_bytes(b"\0" * 16)


def test_stale_regions_are_those_of_servers_gone_and_of_this_pid(tmp_path: Path) -> None:
    gone, running, mine = _finished_pid(), os.getppid(), os.getpid()
    _regions(
        tmp_path,
        f"u2net_{gone}_a1", f"u2net_{gone}_b2", f"u2net_{running}_c3", f"u2net_{mine}_d4",
        "u2net_notapid_e5", "other_1_f6",
    )  # fmt: skip
    removed = shm.remove_stale(tmp_path)
    expected = [f"u2net_{gone}_a1", f"u2net_{gone}_b2", f"u2net_{mine}_d4"]
    assert sorted(p.name for p in removed) == sorted(expected)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([f"u2net_{running}_c3", "u2net_notapid_e5", "other_1_f6"])


def test_own_regions_only(tmp_path: Path) -> None:
    mine, other = os.getpid(), os.getppid()
    _regions(tmp_path, f"u2net_{mine}_a", f"u2net_{mine}_b", f"u2net_{other}_c", f"u2net_{mine}0_d")
    assert sorted(p.name for p in shm.remove_own(tmp_path)) == [
        f"u2net_{mine}_a",
        f"u2net_{mine}_b",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"u2net_{mine}0_d", f"u2net_{other}_c"]
    )
