"""The engine's batch profile agrees with the committed Triton configs (CPU only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convert.errors import EngineBuildError
from convert.model_config import TrtVariant, to_file
from convert.trt.profile import (
    DEFAULT_OPT_BATCH,
    FAMILY_OPT_BATCH,
    BuildSettings,
    ShapeProfile,
    load_profile,
    profile_from_config,
)
from tests.data import REPOSITORY
from u2net.catalogue import MODEL_NAMES
from u2net.contract import CONTRACT, FAMILY_CONTRACTS, ISNET_FAMILY, U2NET_FAMILY
from u2net.repository.layout import read_config

TRT_CONFIGS = sorted(REPOSITORY.glob("*_trt/config.pbtxt"))
MAX_BATCH = TrtVariant("u2netp").get_config().max_batch_size


def test_every_model_has_a_committed_trt_config() -> None:
    names = {path.parent.name for path in TRT_CONFIGS}
    assert names == {TrtVariant(m).name for m in MODEL_NAMES}


@pytest.mark.parametrize("config_path", TRT_CONFIGS, ids=lambda p: p.parent.name)
def test_profile_max_is_the_config_max_batch_size(config_path: Path) -> None:
    config = read_config(config_path)
    model = config.name.removesuffix("_trt")
    profile = load_profile(REPOSITORY, model, DEFAULT_OPT_BATCH)

    assert config.platform == "tensorrt_plan"
    assert profile.max[0] == config.max_batch_size
    assert profile.min[0] == 1
    assert profile.min[0] <= profile.opt[0] <= profile.max[0]
    assert profile.input_name == CONTRACT.input_name
    (declared,) = [i for i in config.input if i.name == profile.input_name]
    for shape in (profile.min, profile.opt, profile.max):
        assert shape[1:] == tuple(declared.dims) == CONTRACT.input_dims


@pytest.mark.parametrize("config_path", TRT_CONFIGS, ids=lambda p: p.parent.name)
def test_cuda_graphs_cover_every_batch_the_engine_and_the_batcher_take(config_path: Path) -> None:
    """Triton's r24.10 TensorRT backend captures graphs for the graph_spec sizes only (by
    default just 1 and max_batch_size); the batcher forms any size from 1 to the max."""
    config = read_config(config_path)
    profile = load_profile(REPOSITORY, config.name.removesuffix("_trt"), DEFAULT_OPT_BATCH)
    cuda = config.optimization.cuda
    sizes = [spec.batch_size for spec in cuda.graph_spec]
    assert cuda.graphs
    assert sorted(sizes) == list(range(profile.min[0], profile.max[0] + 1))
    assert len(set(sizes)) == len(sizes)
    assert not config.dynamic_batching.preferred_batch_size  # else sizes are not all formed
    for spec in cuda.graph_spec:  # batch only: the engine's opt shape with that batch
        assert not spec.input and not spec.HasField("graph_lower_bound")


@pytest.mark.parametrize(
    ("variant", "sizes"),
    [
        (TrtVariant("u2netp", cuda_graph_batch_sizes=(1, 2, 4, 8, 16)), [1, 2, 4, 8, 16]),
        (TrtVariant("u2netp", cuda_graphs=False), []),
    ],
    ids=["chosen", "no-graphs"],
)
def test_graph_spec_follows_the_variant(variant: TrtVariant, sizes: list[int]) -> None:
    assert [s.batch_size for s in variant.get_config().optimization.cuda.graph_spec] == sizes


@pytest.mark.parametrize("size", [0, MAX_BATCH + 1])
def test_graph_batch_sizes_outside_the_profile_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match=f"within 1..{MAX_BATCH}, got"):
        TrtVariant("u2netp", cuda_graph_batch_sizes=(1, size)).get_config()


@pytest.mark.parametrize("opt_batch", [1, DEFAULT_OPT_BATCH, MAX_BATCH])
def test_opt_batch_within_range(opt_batch: int) -> None:
    config = TrtVariant("u2netp").get_config()
    profile = profile_from_config(config, opt_batch)
    assert profile.opt == (opt_batch, *CONTRACT.input_dims)
    assert profile.max_batch == config.max_batch_size


def test_opt_batch_above_config_max_is_refused() -> None:
    config = TrtVariant("u2netp").get_config()
    with pytest.raises(EngineBuildError, match="exceeds"):
        profile_from_config(config, config.max_batch_size + 1)


def test_max_is_read_from_the_file_not_the_defaults(tmp_path: Path) -> None:
    config = TrtVariant("u2netp").get_config()
    config.max_batch_size = 4
    to_file(config, tmp_path)
    assert load_profile(tmp_path, "u2netp", 2).max[0] == 4


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: setattr(c, "max_batch_size", 0), "max_batch_size is 0"),
        (lambda c: c.input[0].dims.__setitem__(0, 512), "does not declare input"),
        (lambda c: setattr(c.input[0], "name", "input.1"), "does not declare input"),
    ],
    ids=["no-batching", "wrong-dims", "wrong-name"],
)
def test_config_that_breaks_the_contract_is_refused(mutate, message: str) -> None:
    config = TrtVariant("u2netp").get_config()
    mutate(config)
    with pytest.raises(EngineBuildError, match=message):
        profile_from_config(config, 1)


def test_missing_or_corrupt_config_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineBuildError, match="missing"):
        load_profile(tmp_path, "u2netp", 1)
    path = tmp_path / "u2netp_trt" / "config.pbtxt"
    path.parent.mkdir()
    path.write_text("max_batch_size: {")
    with pytest.raises(EngineBuildError, match="cannot parse"):
        load_profile(tmp_path, "u2netp", 1)


@pytest.mark.parametrize(
    ("lo", "mid", "hi"),
    [(2, 1, 4), (1, 5, 4), (0, 1, 4)],
    ids=["opt<min", "opt>max", "zero"],
)
def test_shape_profile_validates_order(lo: int, mid: int, hi: int) -> None:
    dims = CONTRACT.input_dims
    with pytest.raises(EngineBuildError):
        ShapeProfile(CONTRACT.input_name, (lo, *dims), (mid, *dims), (hi, *dims))


class _FakeProfile:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def set_shape(self, *args: object) -> None:
        self.calls.append(args)


class _FakeBuilder:
    def __init__(self) -> None:
        self.profile = _FakeProfile()

    def create_optimization_profile(self) -> _FakeProfile:
        return self.profile


def test_to_trt_is_the_one_boundary_and_passes_the_shapes() -> None:
    profile = profile_from_config(TrtVariant("u2net").get_config(), 8)
    builder = _FakeBuilder()
    assert profile.to_trt(builder) is builder.profile
    assert builder.profile.calls == [(profile.input_name, profile.min, profile.opt, profile.max)]


def test_profile_as_dict_is_plain_json_data() -> None:
    profile = profile_from_config(TrtVariant("u2net").get_config(), 8)
    assert MAX_BATCH >= 8
    assert profile.as_dict() == {
        "input": CONTRACT.input_name,
        "min": [1, *CONTRACT.input_dims],
        "opt": [8, *CONTRACT.input_dims],
        "max": [MAX_BATCH, *CONTRACT.input_dims],
    }


@pytest.mark.parametrize(
    "kwargs",
    [{"precision": "int4"}, {"opt_batch": 0}, {"workspace_gb": 0}],
    ids=["precision", "opt", "workspace"],
)
def test_build_settings_validate(kwargs: dict) -> None:
    with pytest.raises(EngineBuildError):
        BuildSettings(**kwargs)


def test_workspace_bytes() -> None:
    assert BuildSettings(workspace_gb=1.5).workspace_bytes == 3 << 29


@pytest.mark.parametrize("family", sorted(FAMILY_CONTRACTS))
def test_every_family_has_an_opt_batch_its_requests_allow(family: str) -> None:
    assert 1 <= FAMILY_OPT_BATCH[family] <= FAMILY_CONTRACTS[family].max_batch
    assert BuildSettings().for_family(family).opt_batch == FAMILY_OPT_BATCH[family]


def test_the_users_opt_batch_is_kept_and_an_unknown_family_refused() -> None:
    assert BuildSettings(opt_batch=5).for_family(ISNET_FAMILY).opt_batch == 5
    with pytest.raises(EngineBuildError, match="expected a model family from u2net, isnet, got"):
        BuildSettings().for_family("sam")


def test_a_larger_family_tunes_for_fewer_images() -> None:
    """Same work per execution: IS-Net's images are the larger ones."""
    assert FAMILY_CONTRACTS[ISNET_FAMILY].size > FAMILY_CONTRACTS[U2NET_FAMILY].size
    assert FAMILY_OPT_BATCH[ISNET_FAMILY] < FAMILY_OPT_BATCH[U2NET_FAMILY] == DEFAULT_OPT_BATCH


def test_a_custom_models_profile_takes_the_contract_given(tmp_path: Path) -> None:
    contract = FAMILY_CONTRACTS[ISNET_FAMILY]
    to_file(TrtVariant("my_dis", contract=contract).get_config(), tmp_path)
    profile = load_profile(tmp_path, "my_dis", 3, contract)
    assert profile.opt == (3, *contract.input_dims)
    with pytest.raises(EngineBuildError, match="does not declare input"):
        load_profile(tmp_path, "my_dis", 3)  # a name outside the catalogue: U²-Net's 320²
