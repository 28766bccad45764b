"""The TensorRT optimization profile as plain data, derived from the committed Triton config.

Like Polygraphy's ``Profile``: a frozen value that tests can inspect on any machine, with
one boundary method, :meth:`ShapeProfile.to_trt`, the only place that touches TensorRT.
The max batch is *read* from ``model_repository/<model>_trt/config.pbtxt`` so the engine
can always take every batch Triton's dynamic batcher may form; the image shape is the
model's contract (320² for the U²-Net family, 1024² for IS-Net); the batch TensorRT tunes
for is chosen per family (:data:`FAMILY_OPT_BATCH`) unless ``--opt-batch`` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from convert.errors import EngineBuildError
from convert.model_config import TrtVariant
from convert.trt.int8 import Int8Inputs
from u2net.catalogue import contract_of
from u2net.contract import CONTRACT, ISNET_FAMILY, U2NET_FAMILY, ServingContract
from u2net.repository.layout import config_path, read_config

Precision = Literal["fp16", "fp32", "int8"]
PRECISIONS: tuple[Precision, ...] = ("fp16", "fp32", "int8")
# The batch TensorRT tunes its tactics for, per model family (never measured on a GPU):
# U²-Net's 8 is about where one execution keeps a mid-range GPU busy; an IS-Net image is
# 2.7x U²-Net's work (160 against 59 GMAC, counted from DIS's ISNetDIS, whose U²-Net-like
# body runs at half its input's side), so 3 of them are about the same work (docs/gpu.md,
# "IS-Net on a GPU host").
FAMILY_OPT_BATCH: dict[str, int] = {U2NET_FAMILY: 8, ISNET_FAMILY: 3}
DEFAULT_OPT_BATCH = FAMILY_OPT_BATCH[U2NET_FAMILY]
DEFAULT_WORKSPACE_GB = 4.0

Shape = tuple[int, ...]


@dataclass(frozen=True)
class ShapeProfile:
    """min/opt/max shapes of the one dynamic input; batch is the only dimension that varies."""

    input_name: str
    min: Shape
    opt: Shape
    max: Shape

    def __post_init__(self) -> None:
        shapes = (self.min, self.opt, self.max)
        if len({len(s) for s in shapes}) != 1 or any(d < 1 for s in shapes for d in s):
            raise EngineBuildError(f"profile for {self.input_name!r} has bad shapes {shapes}")
        if any(not lo <= mid <= hi for lo, mid, hi in zip(*shapes, strict=True)):
            raise EngineBuildError(
                f"profile for {self.input_name!r} needs min <= opt <= max, got "
                f"min {list(self.min)}, opt {list(self.opt)}, max {list(self.max)}"
            )

    @property
    def max_batch(self) -> int:
        return self.max[0]

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input_name,
            "min": list(self.min),
            "opt": list(self.opt),
            "max": list(self.max),
        }

    def to_trt(self, builder: Any) -> Any:
        """Return a TensorRT ``IOptimizationProfile`` built by ``builder`` (the TRT boundary)."""
        profile = builder.create_optimization_profile()
        profile.set_shape(self.input_name, self.min, self.opt, self.max)
        return profile


@dataclass(frozen=True)
class BuildSettings:
    """What the user chose on the command line (``opt_batch`` None: the family's)."""

    precision: Precision = "fp16"
    opt_batch: int | None = None
    workspace_gb: float = DEFAULT_WORKSPACE_GB
    # int8 only: the int8 variant's ranges and float nodes (convert/trt/int8.py)
    int8: Int8Inputs | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise EngineBuildError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.opt_batch is not None and self.opt_batch < 1:
            raise EngineBuildError(f"--opt-batch must be at least 1, got {self.opt_batch}")
        if self.workspace_gb <= 0:
            raise EngineBuildError(f"--workspace-gb must be positive, got {self.workspace_gb}")
        if self.int8 is not None and self.precision != "int8":
            raise EngineBuildError(f"int8 ranges given for a {self.precision} build")

    @property
    def workspace_bytes(self) -> int:
        return int(self.workspace_gb * (1 << 30))

    def for_family(self, family: str) -> BuildSettings:
        """These settings with the opt batch chosen: the user's, else the family's."""
        if self.opt_batch is not None:
            return self
        if family not in FAMILY_OPT_BATCH:
            raise EngineBuildError(
                f"expected a model family from {', '.join(FAMILY_OPT_BATCH)}, got {family!r}"
            )
        return replace(self, opt_batch=FAMILY_OPT_BATCH[family])


def profile_from_config(
    config: mc.ModelConfig, opt_batch: int, contract: ServingContract = CONTRACT
) -> ShapeProfile:
    """The profile for ``config``: batch 1 .. config.max_batch_size, opt at ``opt_batch``."""
    if config.max_batch_size < 1:
        raise EngineBuildError(
            f"{config.name}: max_batch_size is {config.max_batch_size}; the engine's batch "
            "profile needs a batching config (max_batch_size >= 1)"
        )
    found = [i for i in config.input if i.name == contract.input_name]
    if len(found) != 1 or tuple(found[0].dims) != contract.input_dims:
        raise EngineBuildError(
            f"{config.name}: config.pbtxt does not declare input {contract.input_name!r} with "
            f"dims {list(contract.input_dims)}; run `python -m convert configs`"
        )
    if opt_batch > config.max_batch_size:
        raise EngineBuildError(
            f"--opt-batch {opt_batch} exceeds {config.name}'s max_batch_size "
            f"{config.max_batch_size}"
        )
    dims = contract.input_dims
    return ShapeProfile(
        input_name=contract.input_name,
        min=(1, *dims),
        opt=(opt_batch, *dims),
        max=(config.max_batch_size, *dims),
    )


def trt_config_path(repository: Path, model: str) -> Path:
    return config_path(repository, TrtVariant(model).name)


def load_profile(
    repository: Path, model: str, opt_batch: int, contract: ServingContract | None = None
) -> ShapeProfile:
    """Read ``<repository>/<model>_trt/config.pbtxt`` and derive the profile from it, at
    ``contract``'s shape (None: the catalogue model's; a custom model passes its family's)."""
    path = trt_config_path(repository, model)
    if not path.is_file():
        raise EngineBuildError(f"{path} is missing; run `python -m convert configs`")
    try:
        config = read_config(path)
    except (text_format.ParseError, OSError, UnicodeDecodeError) as e:
        raise EngineBuildError(f"cannot parse {path}: {e}") from e
    return profile_from_config(config, opt_batch, contract or contract_of(model))
