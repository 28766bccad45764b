"""Assemble Triton's ``--backend-directory`` in a temporary folder.

Layout::

    <tmp>/python/libtriton_python.so             the python backend (from the wheel)
    <tmp>/python/triton_python_backend_utils.py
    <tmp>/python/triton_python_backend_stub      the stub for this interpreter, beside the utils
    <tmp>/onnxruntime/model.py                   our python-based ONNX Runtime backend

Triton looks for ``libtriton_<backend>.so`` first and falls back to ``<backend>/model.py``, so
configs saying ``backend: "onnxruntime"`` run, unchanged, through ``server/backends/onnxruntime``.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from server.distribution import STUB_NAME, TritonDist

logger = logging.getLogger(__name__)

OWN_BACKENDS = Path(__file__).parent / "backends"


def available_backends() -> list[str]:
    """Backends this server can run: the python backend plus our python-based ones."""
    return ["python", *sorted(p.parent.name for p in OWN_BACKENDS.glob("*/model.py"))]


def _link(src: Path, dst: Path) -> None:
    # Copies, not symlinks: Triton resolves the backend library's real path and refuses one
    # that "escapes" the backend directory (the files are small, ~3 MB in all).
    shutil.copy2(src, dst)


def assemble(dist: TritonDist, target: Path) -> Path:
    """Build the backend folder under ``target`` (an empty temp dir) and return it."""
    backends = Path(target) / "backends"
    python = backends / "python"
    python.mkdir(parents=True)
    for item in dist.python_backend.iterdir():
        if item.is_file():
            _link(item, python / item.name)
    _link(dist.stub, python / STUB_NAME)
    for model_py in OWN_BACKENDS.glob("*/model.py"):
        folder = backends / model_py.parent.name
        folder.mkdir()
        _link(model_py, folder / "model.py")
    logger.debug("backend directory assembled in %s", backends)
    return backends
