"""The serving contract: one source of truth for every model in model_repository.

convert builds graphs that satisfy it, the configs declare it, the client speaks it and
the tests check it. Nothing else in the project repeats these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from u2net.errors import ContractMismatch


@dataclass(frozen=True)
class ServingContract:
    """Tensor names, dtypes and shapes of the served U²-Net graph, plus rembg's maths."""

    input_name: str = "image"
    output_name: str = "mask"
    input_dtype: str = "UINT8"  # Triton's spelling
    output_dtype: str = "UINT8"
    size: int = 320
    channels: int = 3
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    max_floor: float = 1e-6  # rembg: im / max(im.max(), 1e-6)

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


CONTRACT = ServingContract()


def check_metadata(metadata: dict, contract: ServingContract = CONTRACT) -> None:
    """Compare a served model's metadata (Triton's JSON form) with the contract.

    Raises ``ContractMismatch`` saying "expected X, got Y".
    """

    def describe(tensors: list[dict]) -> list[tuple[str, str, list[int]]]:
        return [(t["name"], t["datatype"], [int(d) for d in t["shape"]]) for t in tensors]

    name = metadata.get("name", "?")
    want_in = [(contract.input_name, contract.input_dtype, [-1, *contract.input_dims])]
    want_out = [(contract.output_name, contract.output_dtype, [-1, *contract.output_dims])]
    got_in = describe(metadata.get("inputs", []))
    got_out = describe(metadata.get("outputs", []))
    if got_in != want_in:
        raise ContractMismatch(f"model {name}: expected inputs {want_in}, got {got_in}")
    if got_out != want_out:
        raise ContractMismatch(f"model {name}: expected outputs {want_out}, got {got_out}")
