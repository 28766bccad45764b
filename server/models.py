"""Decide which models of a repository to load: staged files and a backend that runs here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import Message
from google.protobuf.text_format import ParseError

from client.errors import ServerStartError
from convert.model_config import read_config

logger = logging.getLogger(__name__)

CONVERT_HINT = "python -m convert"
_DEFAULT_FILENAMES = {"tensorrt_plan": "model.plan", "onnxruntime_onnx": "model.onnx"}
_BACKEND_FILENAMES = {"onnxruntime": "model.onnx", "tensorrt": "model.plan", "python": "model.py"}


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    backend: str  # "onnxruntime", "tensorrt", "python", ...
    filename: str
    staged_versions: tuple[str, ...]

    @property
    def staged(self) -> bool:
        return bool(self.staged_versions)


def _backend_of(config: Message) -> str:
    if config.backend:
        return config.backend
    return {"tensorrt_plan": "tensorrt", "onnxruntime_onnx": "onnxruntime"}.get(
        config.platform, config.platform
    )


def scan(repository: Path) -> list[ModelEntry]:
    """Every model folder with a config.pbtxt, sorted by name."""
    entries = []
    for config_path in sorted(Path(repository).glob("*/config.pbtxt")):
        try:
            config = read_config(config_path)
        except (ParseError, OSError) as e:
            raise ServerStartError(f"cannot read {config_path}: {e}") from e
        backend = _backend_of(config)
        filename = (
            config.default_model_filename
            or _DEFAULT_FILENAMES.get(config.platform)
            or _BACKEND_FILENAMES.get(backend, "model.onnx")
        )
        folder = config_path.parent
        versions = tuple(
            sorted(
                (
                    v.name
                    for v in folder.iterdir()
                    if v.is_dir() and v.name.isdigit() and (v / filename).exists()
                ),
                key=int,
            )
        )
        entries.append(ModelEntry(config.name or folder.name, folder, backend, filename, versions))
    return entries


def select(
    entries: list[ModelEntry], runnable_backends: list[str], requested: list[str] | None
) -> list[str]:
    """Names to load. Unrunnable or unstaged models are skipped with one log line each,
    except explicitly requested unstaged/unknown ones, which are an error."""
    by_name = {e.name: e for e in entries}
    if requested:
        unknown = [n for n in requested if n not in by_name]
        if unknown:
            raise ServerStartError(
                f"unknown model(s) {', '.join(unknown)}; known: {', '.join(by_name) or 'none'}"
            )
        candidates = [by_name[n] for n in requested]
    else:
        candidates = entries
    chosen = []
    for entry in candidates:
        if entry.backend not in runnable_backends:
            if entry.backend == "tensorrt":
                why = "TensorRT needs an NVIDIA GPU and Triton's TensorRT backend, not on this host"
            else:
                why = f"backend {entry.backend!r} is not available in the embedded Triton"
            logger.warning("skipping model %s: %s", entry.name, why)
            continue
        if not entry.staged:
            message = (
                f"model {entry.name} has no staged {entry.filename} under {entry.path}/<version>/; "
                f"run `{CONVERT_HINT}` first"
            )
            if requested:
                raise ServerStartError(message)
            logger.warning("skipping %s", message)
            continue
        chosen.append(entry.name)
    if not chosen:
        raise ServerStartError(
            "no model can be served: no staged model files in a runnable backend; "
            f"run `{CONVERT_HINT}` first"
        )
    return chosen
