"""Build pymatting's numba cache on both cores (``make matting-cache``).

``import pymatting`` compiles its numba kernels one after another and caches them beside its
source: 84 s of one core here (docs/measurements.md, "A clean clone's CI"). Four processes
compile four parts at once, each importing its modules past the package ``__init__`` files
(which would import every kernel), so that no kernel is compiled twice. Measured one module
at a time (seconds of one core, the machine in its slower state): shared matting 38, LBDM's
Laplacian 19, the other Laplacians with the k-d tree and the box filter two of them import
20, the rest 19 (distance, incomplete Cholesky, ML foreground). Two parts of 38 and 58 s
left one core idle for the last 20 s beside the models' staging; four leave it no such tail.
A last plain ``import pymatting`` then only loads the cache, and compiles whatever a newer
pymatting added that no part named.

    python scripts/matting_cache.py
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import time
import types
from pathlib import Path

PACKAGE = "pymatting"
# each part: the packages whose __init__ it skips, then the modules it imports
PARTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "shared": ((PACKAGE, "pymatting.alpha"), ("pymatting.alpha.estimate_alpha_sm",)),
    "lbdm": ((PACKAGE, "pymatting.laplacian"), ("pymatting.laplacian.lbdm_laplacian",)),
    "laplacians": (
        (PACKAGE, "pymatting.util", "pymatting.laplacian"),
        (
            "pymatting.util.kdtree",
            "pymatting.util.boxfilter",
            "pymatting.laplacian.cf_laplacian",
            "pymatting.laplacian.knn_laplacian",
            "pymatting.laplacian.lkm_laplacian",
            "pymatting.laplacian.rw_laplacian",
            "pymatting.laplacian.uniform_laplacian",
            "pymatting.laplacian.laplacian",
        ),
    ),
    "rest": (
        (PACKAGE, "pymatting.util", "pymatting.foreground"),
        (
            "pymatting.util.distance",
            "pymatting.preconditioner",
            "pymatting.solver",
            "pymatting.foreground.estimate_foreground_ml",
            "pymatting.foreground.estimate_foreground_cf",
        ),
    ),
}


def import_past_init(skipped: tuple[str, ...], modules: tuple[str, ...]) -> None:
    """Import ``modules`` with each package in ``skipped`` an empty one over the same folder."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{PACKAGE} is not installed: make setup")
    root = Path(spec.origin).parent
    for name in skipped:
        package = types.ModuleType(name)
        package.__path__ = [str(root.joinpath(*name.split(".")[1:]))]
        sys.modules[name] = package
    for name in modules:
        importlib.import_module(name)


def main(argv: list[str]) -> int:
    if argv:
        (part,) = argv
        import_past_init(*PARTS[part])
        return 0
    started = time.perf_counter()
    children = [subprocess.Popen([sys.executable, __file__, part]) for part in PARTS]
    failed = [part for part, child in zip(PARTS, children, strict=True) if child.wait() != 0]
    compiled = time.perf_counter() - started
    importlib.import_module(PACKAGE)  # everything from the cache, or compiled here if not
    print(
        f"pymatting's numba cache: parts {compiled:.0f} s"
        + (f" (failed: {', '.join(failed)})" if failed else "")
        + f", then import pymatting {time.perf_counter() - started - compiled:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
