"""fetch -> check -> serving graph -> check -> model_repository/<model>_onnx/1/model.onnx.

Idempotent: a manifest beside the staged file (:mod:`u2net.repository.manifests`) records the
source md5, the converter version and the staged file's md5; when all three still hold, a rerun
does nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

from convert.check import check_serving, check_source, load_onnx
from convert.fetch import fetch
from convert.graph import GRAPH_VERSION, build_serving_graph
from convert.model_config import OnnxVariant, write_configs
from u2net.catalogue import KnownModel
from u2net.repository.files import atomic_write_bytes, md5_of
from u2net.repository.layout import ONNX_FILE, config_path, staged_paths
from u2net.repository.manifests import (
    OnnxManifest,
    onnx_current,
    read_manifest,
    staged_md5,
    write_manifest,
)

log = logging.getLogger(__name__)


def _up_to_date(manifest_path: Path, staged: Path, model: KnownModel) -> bool:
    recorded = read_manifest(manifest_path)
    if not onnx_current(recorded, model.md5, GRAPH_VERSION) or not staged.is_file():
        return False
    return staged_md5(recorded, ONNX_FILE) == md5_of(staged)


def stage_onnx(model: KnownModel, repository: Path) -> Path:
    """Stage the ONNX serving graph for ``model``; returns the staged path."""
    variant = OnnxVariant(model.name)
    source = fetch(model)  # first: a file that cannot be had leaves nothing in the repository
    if not config_path(repository, variant.name).is_file():
        for path in write_configs(variant, repository):
            log.info("%s: writing %s", variant.name, path)
    staged, manifest_path = staged_paths(repository, variant.name, ONNX_FILE)
    if _up_to_date(manifest_path, staged, model):
        log.info("%s: up to date (%s)", variant.name, staged)
        return staged

    for line in check_source(source, model.contract).lines:
        log.info("%s source: %s", model.name, line)
    serving = build_serving_graph(load_onnx(source), model.contract)
    for line in check_serving(serving, f"{variant.name} serving graph", model.contract).lines:
        log.info("%s: %s", variant.name, line)
    data = serving.SerializeToString()
    staged.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(staged, data)
    manifest = OnnxManifest(model.name, model.md5, GRAPH_VERSION, md5_of(staged), model.family)
    write_manifest(manifest_path, manifest.as_dict())
    log.info("%s: staged %s (%.1f MB)", variant.name, staged, len(data) / 1e6)
    return staged
