"""``python -m convert custom NAME --family u2net|isnet --source FILE.onnx``: the user's own
ONNX file of a model family, staged as ``NAME_onnx`` like the catalogue's models (rembg's
``u2net_custom`` and ``dis_custom``).

The file is checked against its family's contract (u2net.contract: input size, one float
NCHW input, sigmoid maps out, a real run on a photo) before anything is written; the serving
graph wraps it with the family's maths; the manifest records the family, so that ``cutout``
and the doctor know its contract.
"""

from __future__ import annotations

import logging
from pathlib import Path

from convert.check import check_serving, check_source, load_onnx
from convert.graph import GRAPH_VERSION, build_serving_graph
from convert.model_config import OnnxVariant, write_configs
from u2net.catalogue import check_custom_name
from u2net.contract import FAMILY_CONTRACTS
from u2net.files import atomic_write_bytes, md5_of
from u2net.manifests import OnnxManifest, write_manifest
from u2net.repository import ONNX_FILE, staged_paths

log = logging.getLogger(__name__)


def stage_custom(name: str, family: str, source: Path, repository: Path) -> Path:
    """Check ``source`` as a ``family`` model and stage it as ``<name>_onnx``; returns the
    staged path. A file that fails its check leaves the repository as it was."""
    check_custom_name(name)
    contract = FAMILY_CONTRACTS[family]
    for line in check_source(source, contract).lines:
        log.info("%s source: %s", name, line)
    serving = build_serving_graph(load_onnx(source), contract)
    variant = OnnxVariant(name, contract=contract)
    for line in check_serving(serving, f"{variant.name} serving graph", contract).lines:
        log.info("%s: %s", variant.name, line)
    for path in write_configs(variant, repository):
        log.info("%s: writing %s", variant.name, path)
    staged, manifest_path = staged_paths(repository, variant.name, ONNX_FILE)
    staged.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(staged, serving.SerializeToString())
    manifest = OnnxManifest(
        name, md5_of(Path(source)), GRAPH_VERSION, md5_of(staged), family, custom=True
    )
    write_manifest(manifest_path, manifest.as_dict())
    return staged
