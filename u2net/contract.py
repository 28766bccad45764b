"""The serving contract: one source of truth for every model in model_repository.

convert builds graphs that satisfy it, the configs declare it, the client speaks it and
the tests check it. Nothing else in the project repeats these numbers. Also here: how Triton
says a served model is not there right now.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from u2net.errors import ContractMismatch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
    def input_np_dtype(self) -> type[np.generic]:
        return np.uint8

    @property
    def output_np_dtype(self) -> type[np.generic]:
        return np.uint8


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


def _describe(tensors: list[dict]) -> list[tuple[str, str, list[int]]]:
    return [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in tensors]


def check_metadata(metadata: dict, contract: ServingContract = CONTRACT) -> None:
    """Compare a served model's metadata (Triton's JSON form) with the contract.

    Raises ``ContractMismatch`` saying "expected X, got Y".
    """

    name = metadata.get("name", "?")
    want_in = [(contract.input_name, contract.input_dtype, [-1, *contract.input_dims])]
    want_out = [(contract.output_name, contract.output_dtype, [-1, *contract.output_dims])]
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
    bytes_dtype: str = "BYTES"  # Triton's TYPE_STRING
    int_dtype: str = "INT32"

    @property
    def inputs(self) -> list[tuple[str, str, list[int]]]:
        return [
            (self.input_name, self.bytes_dtype, [1]),
            (self.background_name, self.bytes_dtype, [1]),
        ]

    @property
    def optional_inputs(self) -> tuple[str, ...]:
        return (self.background_name,)

    @property
    def outputs(self) -> list[tuple[str, str, list[int]]]:
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
