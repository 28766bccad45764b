"""The Python backend's shared-memory regions: named per server, removed when no one can use them.

Each Python-backend model instance talks to Triton through regions in ``/dev/shm`` (1 MB
each at first, grown as messages need). Triton removes them on a graceful stop; when Triton
or its stubs are killed, they stay, and ``/dev/shm`` is memory. Their names carry the pid of
the ``python -m server`` that started Triton (``u2net_<pid>_``), so a server removes its own
after Triton has gone, and, before it starts Triton, those of servers that no longer run
(and any under its own pid, which a restarted container may reuse).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

logger = logging.getLogger(__name__)

SHM_DIR = Path("/dev/shm")
PREFIX = "u2net_"
_OWNER = re.compile(rf"^{PREFIX}(\d+)_")


def region_prefix(pid: int | None = None) -> str:
    """The prefix of the regions of the server running as ``pid`` (default: this process)."""
    return f"{PREFIX}{os.getpid() if pid is None else pid}_"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it runs
        return True
    return True


def _remove(paths: list[Path]) -> list[Path]:
    removed = []
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:  # its owner removed it meanwhile
            continue
        except OSError as e:
            logger.warning("cannot remove the shared-memory region %s: %s", path, e.strerror)
            continue
        removed.append(path)
    if removed:
        logger.info("removed %d shared-memory region(s) left by a stopped server", len(removed))
    return removed


def remove_own(shm_dir: Path = SHM_DIR) -> list[Path]:
    """This server's regions; call only once Triton and its stubs have exited."""
    return _remove(sorted(shm_dir.glob(f"{region_prefix()}*")))


def remove_stale(shm_dir: Path = SHM_DIR) -> list[Path]:
    """Regions of servers that no longer run, and any under this process's pid (before it
    starts Triton, none can be its own)."""
    stale = []
    for path in sorted(shm_dir.glob(f"{PREFIX}*")):
        match = _OWNER.match(path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or not _running(pid):
            stale.append(path)
    return _remove(stale)
