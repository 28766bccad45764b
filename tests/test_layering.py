"""The layering rule, read from the source with ``ast`` so it cannot rot.

- ``u2net`` (the core, its subpackages ``u2net/image/`` and ``u2net/repository/`` included)
  imports none of the others, and at import time nothing beyond numpy, Pillow and the
  standard library (heavier imports sit inside functions).
- ``client``, ``convert`` and ``server`` import only the core; ``web`` the core, ``client``
  and ``server`` (its launcher, for the embedded Triton); ``doctor`` the core, ``client``,
  ``server`` and ``convert``. Nothing imports ``web`` or ``doctor``.
- The client's library does not import its load testing (``client.load``): only the ``ab`` and
  ``bench`` commands do.
- Only ``client`` talks to Triton: ``tritonclient`` is imported nowhere else in the packages,
  the benches, the scripts or the models' Python backends, except its model-config protobuf
  (``tritonclient.grpc.model_config_pb2``) to read ``config.pbtxt``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = "u2net"
# each package and the project packages it may import (its own modules aside)
MAY_IMPORT = {
    CORE: set(),
    "client": {CORE},
    "convert": {CORE},
    "server": {CORE},
    "web": {CORE, "client", "server"},  # server: its launcher, for the embedded Triton
    "doctor": {CORE, "client", "server", "convert"},
}
PACKAGES = tuple(MAY_IMPORT)
CORE_ALLOWED_AT_IMPORT = {"numpy", "PIL", "__future__", CORE}
TRITON_CLIENT = "tritonclient"
TRITON_CONFIG = "tritonclient.grpc.model_config_pb2"
# where tritonclient must not be imported (client/ aside): every package, bench, scripts and
# the Python backends of the models (they use Triton's own pb_utils)
TRITON_FREE = (*(p for p in PACKAGES if p != "client"), "bench", "scripts", "model_repository")


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py")) if folder.is_dir() else []


def _modules(package: str) -> list[Path]:
    """The package's .py files, its subpackages' included; a package that does not exist
    (yet) has none."""
    return _files(ROOT / package)


def _imports(path: Path, top_level_only: bool) -> list[tuple[int, str]]:
    """(line, full module name) for every import in ``path``; ``from a.b import c`` gives
    ``a.b.c`` (c may be a module or a name in a.b)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _where(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _top(module: str) -> str:
    return module.split(".", maxsplit=1)[0]


def _violations(paths: list[Path], forbidden: set[str], top_level_only: bool = False) -> list[str]:
    return [
        f"{_where(path)}:{line} imports {module}"
        for path in paths
        for line, module in _imports(path, top_level_only)
        if _top(module) in forbidden
    ]


def _tritonclient_imports(paths: list[Path]) -> list[str]:
    """Imports of tritonclient other than its model-config protobuf."""
    return [
        f"{_where(path)}:{line} imports {module}"
        for path in paths
        for line, module in _imports(path, top_level_only=False)
        if _top(module) == TRITON_CLIENT
        and module != TRITON_CONFIG
        and not module.startswith(f"{TRITON_CONFIG}.")
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_what_it_builds_on(package: str) -> None:
    forbidden = set(PACKAGES) - MAY_IMPORT[package] - {package}
    assert _violations(_modules(package), forbidden) == []


def test_the_core_imports_only_numpy_pillow_and_stdlib_at_import_time() -> None:
    allowed = CORE_ALLOWED_AT_IMPORT | set(sys.stdlib_module_names)
    offenders = [
        f"{_where(path)}:{line} imports {module}"
        for path in _modules(CORE)
        for line, module in _imports(path, top_level_only=True)
        if _top(module) not in allowed
    ]
    assert offenders == []


def test_the_core_rules_cover_its_subpackages() -> None:
    """The two rules above read every module of the core, not only its top level."""
    folders = {path.parent.relative_to(ROOT).as_posix() for path in _modules(CORE)}
    assert {CORE, f"{CORE}/image", f"{CORE}/repository"} <= folders


@pytest.mark.parametrize("folder", TRITON_FREE)
def test_only_the_client_imports_tritonclient(folder: str) -> None:
    paths = _modules(folder) if folder in MAY_IMPORT else _files(ROOT / folder)
    assert _tritonclient_imports(paths) == []


LOAD_TESTING = "client.load"
# the client's modules that may use load testing: its CLI (ab, bench) and load testing itself
LOAD_USERS = ("client/load/", "client/commands/", "client/cli.py")


def test_the_client_library_does_not_import_load_testing() -> None:
    """The library (Cutter, the link, cutout's client, frames, jobs) does without the load
    generator; only ``ab``'s and ``bench``'s commands use it."""
    library = [
        path for path in _modules("client") if not _where(path).as_posix().startswith(LOAD_USERS)
    ]
    offenders = [
        f"{_where(path)}:{line} imports {module}"
        for path in library
        for line, module in _imports(path, top_level_only=False)
        if module == LOAD_TESTING or module.startswith(f"{LOAD_TESTING}.")
    ]
    assert library and offenders == []


def test_the_client_does_talk_to_triton() -> None:
    """The rule above is about a package that exists and imports tritonclient."""
    assert _tritonclient_imports(_modules("client"))


def test_the_rules_see_a_violation(tmp_path: Path) -> None:
    """The checker itself: a sibling import is found, a lazy one included; tritonclient's
    client is found, its config protobuf is not."""
    module = tmp_path / "m.py"
    module.write_text(
        "import os\n"
        "from tritonclient.grpc import model_config_pb2 as mc\n"
        "import tritonclient.grpc.model_config_pb2\n"
        "\n"
        "def f():\n"
        "    from client.triton import TritonModel\n"
        "    from tritonclient.utils import InferenceServerException\n"
        "    import tritonclient.grpc.aio as aio\n"
    )
    assert (6, "client.triton.TritonModel") in _imports(module, top_level_only=False)
    assert (6, "client.triton.TritonModel") not in _imports(module, top_level_only=True)
    assert _violations([module], {"client"}) == [f"{module}:6 imports client.triton.TritonModel"]
    assert _tritonclient_imports([module]) == [
        f"{module}:7 imports tritonclient.utils.InferenceServerException",
        f"{module}:8 imports tritonclient.grpc.aio",
    ]
