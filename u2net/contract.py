"""The serving contract: one source of truth for every model in model_repository.

convert builds graphs that satisfy it, the configs declare it, the client speaks it and
the tests check it. Nothing else in the project repeats these numbers, nor spells a data type
(``DTYPES``: Triton's, numpy's and config.pbtxt's names). Also here: how Triton says a served
model is not there right now.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from u2net.errors import ContractMismatch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BATCH_DIM = -1  # a batched tensor's first dim as Triton's metadata gives it: any batch size
Tensor = tuple[str, str, list[int]]  # name, Triton's data type, dims (as in model metadata)


@dataclass(frozen=True)
class Dtype:
    """One data type in each of its spellings."""

    triton: str  # Triton's, in model metadata and inference requests: "UINT8"
    numpy: type[np.generic]
    config: str  # config.pbtxt's (model_config.proto's DataType): "TYPE_UINT8"


# Triton's spelling -> the others, for every data type a served model here declares
DTYPES: dict[str, Dtype] = {
    d.triton: d
    for d in (
        Dtype("UINT8", np.uint8, "TYPE_UINT8"),
        Dtype("INT32", np.int32, "TYPE_INT32"),
        Dtype("FP32", np.float32, "TYPE_FP32"),
        Dtype("BYTES", np.object_, "TYPE_STRING"),
    )
}


def config_tensors(tensors: list[Tensor], batched: bool) -> list[Tensor]:
    """``tensors`` (a contract's ``inputs`` or ``outputs``) as config.pbtxt declares them:
    the config's data type names, and, where the model batches (``max_batch_size`` > 0),
    without the batch dim, which Triton adds back in the model's metadata."""
    return [(n, DTYPES[d].config, dims[1:] if batched else dims) for n, d, dims in tensors]


@dataclass(frozen=True)
class ServingContract:
    """Tensor names, dtypes and shapes of a served graph, plus rembg's maths for its model:
    the square ``size`` its photos are stretched to and the ``mean`` and ``std`` the graph
    applies inside (the defaults are U²-Net's; each model's is in u2net.catalogue)."""

    input_name: str = "image"
    output_name: str = "mask"
    input_dtype: str = "UINT8"  # Triton's spelling
    output_dtype: str = "UINT8"
    size: int = 320
    channels: int = 3
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    max_floor: float = 1e-6  # rembg: im / max(im.max(), 1e-6)
    max_batch: int = 16  # images per request: 1..max_batch on every host (CPU and GPU)

    @property
    def input_dims(self) -> tuple[int, int, int]:
        """Input dims without the batch dimension (NHWC)."""
        return (self.size, self.size, self.channels)

    @property
    def output_dims(self) -> tuple[int, int]:
        """Output dims without the batch dimension."""
        return (self.size, self.size)

    @property
    def inputs(self) -> list[Tensor]:
        """(name, Triton's data type, dims) of each input, as its metadata has them: the batch
        dim first (``BATCH_DIM``)."""
        return [(self.input_name, self.input_dtype, [BATCH_DIM, *self.input_dims])]

    @property
    def outputs(self) -> list[Tensor]:
        """The same of each output."""
        return [(self.output_name, self.output_dtype, [BATCH_DIM, *self.output_dims])]

    @property
    def input_np_dtype(self) -> type[np.generic]:
        return DTYPES[self.input_dtype].numpy

    @property
    def output_np_dtype(self) -> type[np.generic]:
        return DTYPES[self.output_dtype].numpy


CONTRACT = ServingContract()  # U²-Net's: 320², ImageNet's mean and std

# The model families, as rembg's sessions treat them (rembg/sessions/*.py): what a custom
# ONNX file of that family gets (rembg's u2net_custom and dis_custom).
U2NET_FAMILY, ISNET_FAMILY = "u2net", "isnet"
FAMILY_CONTRACTS: dict[str, ServingContract] = {
    U2NET_FAMILY: CONTRACT,
    ISNET_FAMILY: ServingContract(size=1024, mean=(0.5, 0.5, 0.5), std=(1.0, 1.0, 1.0)),
}


def sized_as_served(metadata: dict, contract: ServingContract) -> ServingContract:
    """``contract`` at the square size the served model's input has: a custom model's served
    graph carries its family's maths inside, so its size is all a client needs to know
    (check_metadata then checks the rest)."""
    inputs = metadata.get("inputs", [])
    shape = [int(d) for d in inputs[0].get("shape", [])] if len(inputs) == 1 else []
    if len(shape) == 4 and shape[1] == shape[2] > 0:
        return replace(contract, size=shape[1])
    return contract


def _describe(tensors: list[dict]) -> list[Tensor]:
    return [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in tensors]


def check_metadata(metadata: dict, contract: ServingContract = CONTRACT) -> None:
    """Compare a served model's metadata (Triton's JSON form) with the contract.

    Raises ``ContractMismatch`` saying "expected X, got Y".
    """

    name = metadata.get("name", "?")
    want_in, want_out = contract.inputs, contract.outputs
    got_in = _describe(metadata.get("inputs", []))
    got_out = _describe(metadata.get("outputs", []))
    if got_in != want_in:
        raise ContractMismatch(f"model {name}: expected inputs {want_in}, got {got_in}")
    if got_out != want_out:
        raise ContractMismatch(f"model {name}: expected outputs {want_out}, got {got_out}")


@dataclass(frozen=True)
class CutoutContract:
    """The ``cutout`` model: the whole job inside Triton, encoded bytes in, finished image out.

    One request is one image (``max_batch_size: 0``, every tensor's first dim is its size),
    with an optional background photo to compose it over. Its request parameters are the
    names in :mod:`u2net.options`.
    """

    name: str = "cutout"
    input_name: str = "image_bytes"  # one encoded image
    background_name: str = "background_bytes"  # optional: one encoded background photo
    output_name: str = "result_bytes"  # the encoded result
    size_name: str = "result_size"  # width, height of the result
    box_name: str = "foreground_box"  # left, top, width, height in result pixels
    bytes_dtype: str = "BYTES"  # config.pbtxt's TYPE_STRING (DTYPES)
    int_dtype: str = "INT32"

    @property
    def inputs(self) -> list[Tensor]:
        """(name, Triton's data type, dims) of each input: no batch dim (one image a request)."""
        return [
            (self.input_name, self.bytes_dtype, [1]),
            (self.background_name, self.bytes_dtype, [1]),
        ]

    @property
    def optional_inputs(self) -> tuple[str, ...]:
        return (self.background_name,)

    @property
    def outputs(self) -> list[Tensor]:
        return [
            (self.output_name, self.bytes_dtype, [1]),
            (self.size_name, self.int_dtype, [2]),
            (self.box_name, self.int_dtype, [4]),
        ]


CUTOUT = CutoutContract()


def check_cutout_metadata(metadata: dict, contract: CutoutContract = CUTOUT) -> None:
    """Compare the served ``cutout`` model's metadata with its contract ("expected X, got Y")."""
    name = metadata.get("name", "?")
    for kind, want in (("inputs", contract.inputs), ("outputs", contract.outputs)):
        got = _describe(metadata.get(kind, []))
        if got != want:
            raise ContractMismatch(f"model {name}: expected {kind} {want}, got {got}")


# how Triton says a model is not (yet) there; after a restart these mean "still loading",
# and while a server stops, a model it still calls answers "Server not ready" (read alike by the
# client's retry rules, client.retry, and by the cutout model's calls to the network)
NOT_LOADED = ("unknown model", "not ready", "no available versions", "is not loaded")


def says_not_loaded(message: str) -> bool:
    """Does Triton's message say the model (or its server) is not there right now?"""
    return any(words in message.lower() for words in NOT_LOADED)
