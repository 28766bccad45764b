"""How ``make test`` spreads the suite over pytest-xdist workers (``--dist loadfile``).

A test file is one unit of work (its module-scoped servers start once), except that the
files using ``both_models_server`` (the 176 MB u2net) are one unit: that session fixture
then starts on one worker, not on each. Units go out longest first, so no long file is
left to run alone at the end while the other worker idles (xdist's own order, most tests
first, sends the few-but-long end-to-end files last).
"""

from __future__ import annotations

from pathlib import PurePosixPath

# Files on both_models_server: run together, on one worker.
U2NET_UNIT = "u2net-server"
U2NET_FILES = frozenset(
    {
        "tests/client/test_ab_bench_e2e.py",
        "tests/client/test_frames.py",
        "tests/client/test_rembg_flags.py",
        "tests/web/test_rembg_api.py",
    }
)
# Seconds per unit, one worker on an idle 2-core machine (pytest --durations=0,
# 2026-12-02); units not listed are short and keep their collection order after these.
MEASURED_S = {
    U2NET_UNIT: 67,
    "tests/client/test_resilience.py": 50,
    "tests/server/test_batching.py": 33,
    "tests/model_repository/test_cutout_e2e.py": 33,
    "tests/client/test_cut_e2e.py": 25,
    "tests/web/test_ops.py": 24,
    "tests/convert/test_fetch.py": 22,
    "tests/web/test_restart.py": 16,
    "tests/web/test_cli.py": 15,
    "tests/doctor/test_e2e.py": 15,
    "tests/convert/test_graph.py": 15,
    "tests/web/test_browser.py": 15,
    "tests/client/test_retry_timeout.py": 15,
    "tests/web/test_removebg_api.py": 15,
    "tests/server/test_server.py": 14,
    "tests/web/test_reresolve.py": 11,
}


def unit_of(nodeid: str) -> str:
    """The unit of work a test belongs to: its file, or ``U2NET_UNIT``."""
    path = str(PurePosixPath(nodeid.split("::", 1)[0]))
    return U2NET_UNIT if path in U2NET_FILES else path


def longest_first(nodeids: list[str]) -> list[int]:
    """Indexes of ``nodeids`` reordered so units go longest first (a stable sort: within a
    unit, and among the unmeasured ones, collection order is kept)."""
    return sorted(range(len(nodeids)), key=lambda i: -MEASURED_S.get(unit_of(nodeids[i]), 0))
