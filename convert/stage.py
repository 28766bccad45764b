"""fetch -> check -> serving graph -> check -> model_repository/<model>_onnx/1/model.onnx.

Idempotent: a manifest beside the staged file records the source md5, the converter
version and the staged file's md5; when all three still hold, a rerun does nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from convert.check import check_serving, check_source, load_onnx
from convert.fetch import fetch, md5_of
from convert.graph import GRAPH_VERSION, build_serving_graph
from convert.model_config import OnnxVariant, write_configs
from u2net.catalogue import KnownModel
from u2net.files import atomic_write_bytes
from u2net.repository import ONNX_FILE, config_path, read_manifest, staged_paths

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Manifest:
    model: str
    source_md5: str
    converter_version: int
    output_md5: str


def _up_to_date(manifest_path: Path, staged: Path, expected: dict) -> bool:
    recorded = read_manifest(manifest_path)
    if recorded is None or not staged.is_file():
        return False
    if any(recorded.get(k) != v for k, v in expected.items()):
        return False
    return recorded.get("output_md5") == md5_of(staged)


def stage_onnx(model: KnownModel, repository: Path) -> Path:
    """Stage the ONNX serving graph for ``model``; returns the staged path."""
    variant = OnnxVariant(model.name)
    if not config_path(repository, variant.name).is_file():
        for path in write_configs(variant, repository):
            log.info("%s: writing %s", variant.name, path)
    staged, manifest_path = staged_paths(repository, variant.name, ONNX_FILE)
    source = fetch(model)
    expected = {"source_md5": model.md5, "converter_version": GRAPH_VERSION}
    if _up_to_date(manifest_path, staged, expected):
        log.info("%s: up to date (%s)", variant.name, staged)
        return staged

    for line in check_source(source).lines:
        log.info("%s source: %s", model.name, line)
    serving = build_serving_graph(load_onnx(source))
    for line in check_serving(serving, f"{variant.name} serving graph").lines:
        log.info("%s: %s", variant.name, line)
    data = serving.SerializeToString()
    staged.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(staged, data)
    manifest = Manifest(model.name, model.md5, GRAPH_VERSION, md5_of(staged))
    atomic_write_bytes(manifest_path, (json.dumps(asdict(manifest), indent=2) + "\n").encode())
    log.info("%s: staged %s (%.1f MB)", variant.name, staged, len(data) / 1e6)
    return staged
