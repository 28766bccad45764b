"""The layering rule, read from the source with ``ast`` so it cannot rot.

- ``u2net`` (the core) imports nothing from the other packages, and at import time nothing
  beyond numpy, Pillow and the standard library (heavier imports sit inside functions).
- ``client``, ``convert``, ``server`` (and ``web``) import the core and never each other.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = "u2net"
PACKAGES = ("client", "convert", "server", "web")
CORE_ALLOWED_AT_IMPORT = {"numpy", "PIL", "__future__", CORE}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []


def _imports(path: Path, top_level_only: bool) -> list[tuple[int, str]]:
    """(line, top-level module) for every import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def _violations(package: str, forbidden: set[str], top_level_only: bool = False) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _modules(package)
        for line, module in _imports(path, top_level_only)
        if module in forbidden
    ]


def test_the_core_imports_no_other_package() -> None:
    assert _violations(CORE, set(PACKAGES)) == []


def test_the_core_imports_only_numpy_pillow_and_stdlib_at_import_time() -> None:
    allowed = CORE_ALLOWED_AT_IMPORT | set(sys.stdlib_module_names)
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _modules(CORE)
        for line, module in _imports(path, top_level_only=True)
        if module not in allowed
    ]
    assert offenders == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_package_imports_a_sibling(package: str) -> None:
    assert _violations(package, set(PACKAGES) - {package}) == []


def test_the_rule_sees_a_violation(tmp_path: Path) -> None:
    """The checker itself: a sibling import is found, a lazy one included."""
    module = tmp_path / "m.py"
    module.write_text("import os\n\ndef f():\n    from client.triton import TritonModel\n")
    assert (4, "client") in _imports(module, top_level_only=False)
    assert (4, "client") not in _imports(module, top_level_only=True)
