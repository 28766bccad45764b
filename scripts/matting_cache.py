"""Build pymatting's numba cache on two cores instead of one (``make matting-cache``).

``import pymatting`` compiles its numba kernels one after another and caches them beside its
source: 84 s of one core here (docs/measurements.md, "A clean clone's CI"). Shared matting's
kernels (``pymatting.alpha.estimate_alpha_sm``, about 40 % of that) import nothing else of
pymatting, so one process compiles them while another compiles the rest. Each part imports
its modules past the package ``__init__`` files, which would import every kernel. A last
plain ``import pymatting`` then only loads the cache, and compiles whatever a newer pymatting
added that neither part named.

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
    "rest": (
        (PACKAGE,),
        (
            "pymatting.util",
            "pymatting.laplacian",
            "pymatting.preconditioner",
            "pymatting.solver",
            "pymatting.foreground",
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
