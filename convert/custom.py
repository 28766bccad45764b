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
from dataclasses import dataclass
from pathlib import Path

from convert.check import check_serving, check_source, load_onnx
from convert.graph import GRAPH_VERSION, build_serving_graph
from convert.model_config import OnnxVariant, write_configs
from u2net.catalogue import KNOWN_MODELS, KnownModel, base_name, check_custom_name
from u2net.contract import FAMILY_CONTRACTS, ServingContract
from u2net.errors import UsageError
from u2net.repository.files import atomic_write_bytes, md5_of
from u2net.repository.layout import ONNX_FILE, staged_paths
from u2net.repository.manifests import OnnxManifest, custom_models, write_manifest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CustomModel:
    """A model staged by ``python -m convert custom``: what ``python -m convert trt`` needs of
    it, as of a catalogue model (its name, family and contract)."""

    name: str
    family: str

    @property
    def contract(self) -> ServingContract:
        return FAMILY_CONTRACTS[self.family]

    @property
    def stage_command(self) -> str:
        return f"python -m convert custom {self.name} --family {self.family} --source FILE.onnx"


def resolve_models(text: str, repository: Path) -> list[KnownModel | CustomModel]:
    """``"u2net,my_dis"`` -> the catalogue's models and the custom models staged in
    ``repository`` (base or served names, duplicates dropped); UsageError otherwise."""
    names = list(dict.fromkeys(base_name(n.strip()) for n in text.split(",") if n.strip()))
    staged = custom_models(repository)
    unknown = [n for n in names if n not in KNOWN_MODELS and n not in staged]
    if unknown or not names:
        custom = ", ".join(staged) or "none"
        raise UsageError(
            f"--models: expected model names from {', '.join(KNOWN_MODELS)} or a custom model"
            f" staged in {repository} ({custom}), got {text!r}"
        )
    return [KNOWN_MODELS.get(n) or CustomModel(n, staged[n]) for n in names]


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
