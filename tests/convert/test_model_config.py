"""Every committed config.pbtxt parses with Triton's protobuf and agrees with the models."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from tritonclient.grpc import model_config_pb2 as mc

from convert.model_config import (
    CutoutVariant,
    OnnxVariant,
    TrtVariant,
    all_variants,
    configs_of,
    to_text,
    write_configs,
)
from server.backend_dir import available_backends
from tests.cli_run import run_cli
from tests.data import REPOSITORY, staged_model
from u2net.catalogue import KNOWN_MODELS, MODEL_NAMES
from u2net.contract import (
    BATCH_DIM,
    CONTRACT,
    CUTOUT,
    DTYPES,
    FAMILY_CONTRACTS,
    ISNET_FAMILY,
    check_cutout_metadata,
    check_metadata,
)
from u2net.image.io import DEFAULT_MAX_PIXELS
from u2net.options import MAX_PIXELS
from u2net.repository.layout import CPU_CONFIG_NAME, MAX_SESSION_BATCH, config_path, read_config

CONFIGS = sorted(REPOSITORY.glob("*/config.pbtxt"))
MASK_CONFIGS = [p for p in CONFIGS if p.parent.name != CUTOUT.name]
TRITON_TYPE = {mc.DataType.Value(d.config): d.triton for d in DTYPES.values()}
VARIANTS = {v.name: v for v in all_variants()}
ONNX_TO_TRITON = {onnx.TensorProto.UINT8: mc.TYPE_UINT8, onnx.TensorProto.FLOAT: mc.TYPE_FP32}


def metadata_of(config: mc.ModelConfig) -> dict:
    """The metadata Triton serves for a model of this config (its JSON form): each tensor in
    Triton's data type, with the batch dim first where the model batches."""
    batch = [BATCH_DIM] if config.max_batch_size > 0 else []

    def tensors(declared) -> list[dict]:
        return [
            {"name": t.name, "datatype": TRITON_TYPE[t.data_type], "shape": [*batch, *t.dims]}
            for t in declared
        ]

    return {"name": config.name, "inputs": tensors(config.input), "outputs": tensors(config.output)}


def test_every_variant_has_a_committed_config() -> None:
    assert sorted(p.parent.name for p in CONFIGS) == sorted(VARIANTS)


CUSTOM_CONFIGS = sorted(REPOSITORY.glob("*/configs/*.pbtxt"))


@pytest.mark.parametrize(
    "path", CUSTOM_CONFIGS, ids=[f"{p.parents[1].name}/{p.stem}" for p in CUSTOM_CONFIGS]
)
def test_committed_custom_config_is_what_the_code_generates(path: Path) -> None:
    variant = VARIANTS[path.parents[1].name]
    assert path.read_text() == to_text(configs_of(variant)[path.stem]), (
        "run `python -m convert configs`"
    )


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_the_cpu_configuration_differs_only_in_how_it_runs_a_batch(model: str) -> None:
    """configs/cpu.pbtxt: the same model, contract, threads and 1..16 images per request;
    no dynamic batcher, and fewer images per session.run than a request may carry."""
    name = KNOWN_MODELS[model].onnx_name
    default = read_config(REPOSITORY / name / "config.pbtxt")
    cpu = read_config(config_path(REPOSITORY, name, CPU_CONFIG_NAME))
    assert cpu.max_batch_size == default.max_batch_size == CONTRACT.max_batch
    assert not cpu.HasField("dynamic_batching") and default.HasField("dynamic_batching")
    assert 1 <= int(cpu.parameters[MAX_SESSION_BATCH].string_value) < cpu.max_batch_size
    assert MAX_SESSION_BATCH not in default.parameters
    del cpu.parameters[MAX_SESSION_BATCH]
    cpu.dynamic_batching.CopyFrom(default.dynamic_batching)
    assert cpu == default


@pytest.mark.parametrize("path", CONFIGS, ids=[p.parent.name for p in CONFIGS])
def test_committed_config_is_what_the_code_generates(path: Path) -> None:
    assert path.read_text() == to_text(VARIANTS[path.parent.name].get_config()), (
        "run `python -m convert configs`"
    )


@pytest.mark.parametrize("path", MASK_CONFIGS, ids=[p.parent.name for p in MASK_CONFIGS])
def test_config_follows_contract(path: Path) -> None:
    config = read_config(path)
    assert config.name == path.parent.name
    check_metadata(metadata_of(config), CONTRACT)
    assert config.max_batch_size >= 1
    assert config.HasField("dynamic_batching")
    assert all(g.kind == mc.ModelInstanceGroup.KIND_AUTO for g in config.instance_group)


def test_cutout_config_follows_its_contract() -> None:
    """One image per request (no batch dim), CPU instances, the server's pixel limit."""
    config = read_config(REPOSITORY / CUTOUT.name / "config.pbtxt")
    assert config.backend == "python" and config.max_batch_size == 0
    check_cutout_metadata(metadata_of(config))
    assert [i.name for i in config.input if i.optional] == list(CUTOUT.optional_inputs)
    assert all(g.kind == mc.ModelInstanceGroup.KIND_CPU for g in config.instance_group)
    assert int(config.parameters[MAX_PIXELS].string_value) == DEFAULT_MAX_PIXELS
    assert (REPOSITORY / CUTOUT.name / "1" / "model.py").is_file()


WRITTEN = [
    *all_variants(tuple(KNOWN_MODELS)),
    *(OnnxVariant("mine", contract=c) for c in FAMILY_CONTRACTS.values()),
    TrtVariant("mine", contract=FAMILY_CONTRACTS[ISNET_FAMILY]),
]


@pytest.mark.parametrize(
    "variant", WRITTEN, ids=[f"{v.name}-{getattr(v.contract, 'size', '')}" for v in WRITTEN]
)
def test_a_written_config_serves_its_contracts_tensors(tmp_path: Path, variant) -> None:
    """Every configuration written (the CPU ones too), as the metadata Triton derives from it:
    what the client checks a served model against."""
    for path in write_configs(variant, tmp_path):
        metadata = metadata_of(read_config(path))
        if isinstance(variant, CutoutVariant):
            check_cutout_metadata(metadata)
        else:
            check_metadata(metadata, variant.contract)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_onnx_config_matches_staged_graph(model: str) -> None:
    name = f"{model}_onnx"
    graph = onnx.load(str(staged_model(name)), load_external_data=False).graph
    config = read_config(REPOSITORY / name / "config.pbtxt")
    # Triton loads the file the stager wrote, through a backend this server can run
    assert config.default_model_filename == staged_model(name).name
    assert config.backend in available_backends()

    def io(values: list[onnx.ValueInfoProto]) -> list[tuple[str, int, list[int]]]:
        return [
            (
                v.name,
                ONNX_TO_TRITON[v.type.tensor_type.elem_type],
                [d.dim_value for d in v.type.tensor_type.shape.dim[1:]],
            )
            for v in values
        ]

    assert io(list(graph.input)) == [(i.name, i.data_type, list(i.dims)) for i in config.input]
    assert io(list(graph.output)) == [(o.name, o.data_type, list(o.dims)) for o in config.output]
    assert not graph.input[0].type.tensor_type.shape.dim[0].HasField("dim_value")


# ---- `python -m convert configs` ---------------------------------------------------------


def test_cli_configs_writes_every_variant(tmp_path: Path) -> None:
    done = run_cli("convert", "configs", "--model-repository", tmp_path)
    assert done.returncode == 0, done.stderr
    written = sorted(tmp_path.glob("*/config.pbtxt"))
    assert [p.parent.name for p in written] == sorted(VARIANTS)
    custom = sorted(tmp_path.glob("*/configs/*.pbtxt"))
    assert sorted(done.stdout.splitlines()) == sorted(str(p) for p in [*written, *custom])
    for path in written:
        variant = VARIANTS[path.parent.name]
        assert read_config(path) == variant.get_config()
        assert path.read_text() == to_text(variant.get_config())
    for path in custom:
        assert path.read_text() == to_text(configs_of(VARIANTS[path.parents[1].name])[path.stem])
    assert sorted(f"{p.parents[1].name}/{p.stem}" for p in custom) == sorted(
        f"{name}/{CPU_CONFIG_NAME}"
        for m in (KNOWN_MODELS[model] for model in MODEL_NAMES)
        for name in (m.onnx_name, m.int8_name)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(VARIANTS)  # nothing else


@pytest.mark.parametrize(
    "args",
    [
        ["--models", "u2netp", "configs", "--model-repository", "{repo}"],
        ["configs", "--models", "u2netp", "--model-repository", "{repo}"],
        ["--model-repository", "{repo}", "--models", "u2netp_onnx", "configs"],
    ],
    ids=["models-before", "models-after", "served-name-before"],
)
def test_cli_configs_writes_only_the_chosen_model_and_cutout(
    tmp_path: Path, args: list[str]
) -> None:
    done = run_cli("convert", *[a.replace("{repo}", str(tmp_path)) for a in args])
    assert done.returncode == 0, done.stderr
    written = sorted(tmp_path.glob("*/config.pbtxt"))
    chosen = ["cutout", "u2netp_int8", "u2netp_onnx", "u2netp_trt"]
    assert [p.parent.name for p in written] == chosen
    for path in written:
        assert path.read_text() == to_text(VARIANTS[path.parent.name].get_config())
    assert sorted(p.name for p in tmp_path.iterdir()) == chosen
