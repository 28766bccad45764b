"""Paths to the real things the tests use: staged models, rembg's originals, sample photos;
and ONNX Runtime sessions on them, run the way the tests' servers run (one thread each)."""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort
import pytest

from u2net.catalogue import KNOWN_MODELS, cache_dir
from u2net.repository.layout import (
    INTRA_OP_THREADS_ENV,
    ONNX_FILE,
    default_repository,
    staged_paths,
)
from u2net.samples import sample_photos

REPOSITORY: Path = default_repository()

PHOTOS: list[Path] = sample_photos()
PHOTO_IDS: list[str] = [p.name for p in PHOTOS]


def original_model(name: str) -> Path:
    """rembg's original file in the cache (``make test`` fetches u2netp; u2net is slow)."""
    path = cache_dir() / KNOWN_MODELS[name].filename
    if not path.is_file():
        pytest.skip(f"{path} not fetched; run `python -m convert fetch --models {name}`")
    return path


def staged_model(variant: str) -> Path:
    path, _manifest = staged_paths(REPOSITORY, variant, ONNX_FILE)
    if not path.is_file():
        pytest.skip(f"{path} not staged; run `python -m convert`")
    return path


def cpu_session(model: Path | bytes) -> ort.InferenceSession:
    """A CPU session on a model file or serialized model, with the intra-op threads that
    tests/conftest.py gives the tests' servers (three xdist workers share two cores)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(os.environ.get(INTRA_OP_THREADS_ENV, "0"))
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


# u2netp runs everywhere; u2net (176 MB) is marked slow.
MODEL_PARAMS = [
    pytest.param("u2netp", id="u2netp"),
    pytest.param("u2net", id="u2net", marks=pytest.mark.slow),
]
