"""Decide which models of a repository to load: staged files and a backend that runs here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import Message
from google.protobuf.text_format import ParseError

from u2net.catalogue import INT8_SUFFIX, KNOWN_MODELS
from u2net.contract import CUTOUT
from u2net.errors import ServerStartError, UsageError
from u2net.repository.layout import CONFIG_FILE, model_filename, read_config

logger = logging.getLogger(__name__)
CATALOGUE_NAMES = {name for model in KNOWN_MODELS.values() for name in model.variant_names}

CONVERT_HINT = "python -m convert"
QUANTIZE_HINT = "python -m convert quantize"


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
    for config_path in sorted(Path(repository).glob(f"*/{CONFIG_FILE}")):
        try:
            config = read_config(config_path)
        except (ParseError, OSError) as e:
            raise ServerStartError(f"cannot read {config_path}: {e}") from e
        backend = _backend_of(config)
        filename = model_filename(config)
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


def expand(requested: list[str], known: dict[str, ModelEntry]) -> list[str]:
    """Served names as given; a base name (``u2netp``) stands for its variants in the repository.

    Raises UsageError naming the known models for anything else.
    """
    names: list[str] = []
    for name in requested:
        if name in known:
            names.append(name)
            continue
        model = KNOWN_MODELS.get(name)
        order = (*reversed(model.served_names), model.int8_name) if model else ()
        variants = [n for n in order if n in known]
        if not variants:
            raise UsageError(  # a bad --models value: exit 2, as convert's
                f"--models: expected model names from {', '.join(known) or 'none'} (or a base "
                f"name such as {', '.join(KNOWN_MODELS)}), got {name!r}"
            )
        names += variants
    return list(dict.fromkeys(names))


def with_cutout(chosen: list[str], known: dict[str, ModelEntry]) -> list[str]:
    """``cutout`` serves the U²-Net models: load it whenever one of them is loaded."""
    entry = known.get(CUTOUT.name)
    serves_one = any(name in CATALOGUE_NAMES for name in chosen)
    if entry is None or not entry.staged or not serves_one or entry.name in chosen:
        return []
    logger.debug("loading %s too: it serves %s", entry.name, ", ".join(chosen))
    return [entry.name]


def select(
    entries: list[ModelEntry], runnable_backends: list[str], requested: list[str] | None
) -> list[str]:
    """Names to load. Unrunnable or unstaged models are skipped with one log line each,
    except explicitly requested unstaged/unknown ones, which are an error."""
    by_name = {e.name: e for e in entries}
    candidates = entries if not requested else [by_name[n] for n in expand(requested, by_name)]
    chosen = []
    for entry in candidates:
        if entry.backend not in runnable_backends:
            if entry.backend == "tensorrt":
                why = (
                    "the embedded Triton has no TensorRT backend (on any host); serve TensorRT "
                    "models with NVIDIA's container (docker compose)"
                )
            else:
                why = f"backend {entry.backend!r} is not available in the embedded Triton"
            logger.warning("skipping model %s: %s", entry.name, why)
            continue
        if not entry.staged:
            optional = entry.name.endswith(INT8_SUFFIX)  # made by a separate, optional step
            message = (
                f"model {entry.name} has no staged {entry.filename} under {entry.path}/<version>/; "
                f"run `{QUANTIZE_HINT if optional else CONVERT_HINT}` first"
            )
            if requested:
                raise ServerStartError(message)
            logger.log(logging.INFO if optional else logging.WARNING, "skipping %s", message)
            continue
        chosen.append(entry.name)
    chosen += with_cutout(chosen, by_name)
    if not chosen:
        raise ServerStartError(
            "no model can be served: no staged model files in a runnable backend; "
            f"run `{CONVERT_HINT}` first"
        )
    return chosen
