"""The serving contract's tensors and data types, as Triton and its client read them."""

from __future__ import annotations

import numpy as np
import pytest
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.utils import np_to_triton_dtype, triton_to_np_dtype

from u2net.catalogue import KNOWN_MODELS
from u2net.contract import (
    CONTRACT,
    CUTOUT,
    DTYPES,
    FAMILY_CONTRACTS,
    ISNET_FAMILY,
    check_cutout_metadata,
    check_metadata,
    config_tensors,
)
from u2net.errors import ContractMismatch

CONTRACTS = {
    **{f"family {name}": c for name, c in FAMILY_CONTRACTS.items()},
    **{name: m.contract for name, m in KNOWN_MODELS.items()},
}


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=list(DTYPES))
def test_each_data_type_is_spelled_as_tritons_client_and_config_spell_it(dtype) -> None:
    assert triton_to_np_dtype(dtype.triton) == dtype.numpy
    assert np_to_triton_dtype(dtype.numpy) == dtype.triton
    mc.DataType.Value(dtype.config)  # a ValueError unless model_config.proto has it


def test_every_contract_declares_only_data_types_of_the_map() -> None:
    contracts = [*CONTRACTS.values(), CUTOUT]
    tensors = [t for c in contracts for t in (*c.inputs, *c.outputs)]
    assert {dtype for _, dtype, _ in tensors} <= set(DTYPES)


@pytest.mark.parametrize("contract", CONTRACTS.values(), ids=list(CONTRACTS))
def test_a_batch_in_the_contracts_numpy_dtype_is_sent_as_its_triton_dtype(contract) -> None:
    batch = np.zeros((2, *contract.input_dims), contract.input_np_dtype)
    assert np_to_triton_dtype(batch.dtype) == contract.input_dtype
    assert np_to_triton_dtype(np.dtype(contract.output_np_dtype)) == contract.output_dtype


def test_the_served_u2net_and_isnet_metadata_meet_their_contracts() -> None:
    """The metadata as Triton answers it (dims as strings): a batch of any size first."""

    def served(size: int) -> dict:
        return {
            "name": "m",
            "inputs": [
                {"name": "image", "datatype": "UINT8", "shape": ["-1", *[str(size)] * 2, "3"]}
            ],
            "outputs": [{"name": "mask", "datatype": "UINT8", "shape": ["-1", *[str(size)] * 2]}],
        }

    check_metadata(served(320), CONTRACT)
    check_metadata(served(1024), FAMILY_CONTRACTS[ISNET_FAMILY])
    with pytest.raises(ContractMismatch, match=r"expected inputs \[\('image', 'UINT8', \[-1, 1024"):
        check_metadata(served(320), FAMILY_CONTRACTS[ISNET_FAMILY])


def test_the_cutout_metadata_meets_its_contract_and_a_missing_output_does_not() -> None:
    metadata = {
        "name": CUTOUT.name,
        "inputs": [
            {"name": "image_bytes", "datatype": "BYTES", "shape": ["1"]},
            {"name": "background_bytes", "datatype": "BYTES", "shape": ["1"]},
        ],
        "outputs": [
            {"name": "result_bytes", "datatype": "BYTES", "shape": ["1"]},
            {"name": "result_size", "datatype": "INT32", "shape": ["2"]},
            {"name": "foreground_box", "datatype": "INT32", "shape": ["4"]},
        ],
    }
    check_cutout_metadata(metadata)
    metadata["outputs"].pop()
    with pytest.raises(ContractMismatch, match="expected outputs"):
        check_cutout_metadata(metadata)


def test_a_config_declares_a_batched_tensor_without_its_batch_dim() -> None:
    assert config_tensors(CONTRACT.inputs, batched=True) == [("image", "TYPE_UINT8", [320, 320, 3])]
    assert config_tensors(CONTRACT.outputs, batched=True) == [("mask", "TYPE_UINT8", [320, 320])]
    assert config_tensors(CUTOUT.outputs, batched=False) == [
        ("result_bytes", "TYPE_STRING", [1]),
        ("result_size", "TYPE_INT32", [2]),
        ("foreground_box", "TYPE_INT32", [4]),
    ]
