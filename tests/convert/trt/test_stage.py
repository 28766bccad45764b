"""Build -> verify -> stage logic and the manifest, with a fake GPU backend (CPU only).

The fake "engine" is ONNX Runtime running the staged u2netp serving graph, so the
verification path runs for real on real photos; only TensorRT itself is replaced.
ONNX Runtime's masks are memoised per image (u2netp takes ~2 s a photo on a small CPU).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from convert.errors import EngineBuildError
from convert.model_config import OnnxVariant, TrtVariant, to_file
from convert.trt.cuda import GpuInfo
from convert.trt.profile import BuildSettings, ShapeProfile, profile_from_config
from convert.trt.stage import (
    BUILD_RECIPE,
    PLAN,
    TIMING_CACHE,
    engine_manifest,
    fingerprint,
    stage_trt,
)
from convert.trt.verify import Verification, onnx_reference
from tests.data import REPOSITORY
from u2net.agreement import MaskAgreement
from u2net.catalogue import KNOWN_MODELS
from u2net.contract import CONTRACT
from u2net.repository.files import md5_of
from u2net.repository.layout import staged_paths
from u2net.repository.manifests import plan_loads_with, plan_up_to_date

MODEL = KNOWN_MODELS["u2netp"]
STAGED_ONNX, _ = staged_paths(REPOSITORY, OnnxVariant(MODEL.name).name, "model.onnx")
GPU = GpuInfo("Fake GPU", "8.6")
FAKE_PLAN = b"not really a plan"

needs_staged_onnx = pytest.mark.skipif(
    not STAGED_ONNX.is_file(), reason=f"{STAGED_ONNX} not staged; run `python -m convert`"
)


_MASKS: dict[str, np.ndarray] = {}


def memo_reference(onnx_path: Path, batch: np.ndarray, contract: object = CONTRACT) -> np.ndarray:
    """``onnx_reference`` with each image's mask computed once per test session."""
    keys = [hashlib.md5(image.tobytes()).hexdigest() for image in batch]
    missing = {k: image for k, image in zip(keys, batch, strict=True) if k not in _MASKS}
    if missing:
        masks = onnx_reference(onnx_path, np.stack(list(missing.values())))
        _MASKS.update(zip(missing, masks, strict=True))
    return np.stack([_MASKS[k] for k in keys])


@pytest.fixture(autouse=True)
def _memoised_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("convert.trt.stage.onnx_reference", memo_reference)


class FakeBackend:
    """Stands in for TensorRT: the 'engine' is ONNX Runtime, optionally corrupted.

    ``corrupt``: every engine disagrees; ``corrupt_precisions``: engines of those precisions
    disagree; ``failing_precisions``: builds of those precisions raise, as TensorRT can.
    """

    def __init__(
        self,
        onnx_path: Path,
        corrupt: bool = False,
        *,
        corrupt_precisions: tuple[str, ...] = (),
        failing_precisions: tuple[str, ...] = (),
        version: str = "10.5.0",
        new_cache: bytes | None = None,
    ) -> None:
        self.onnx_path = onnx_path
        self.corrupt = corrupt
        self.corrupt_precisions = corrupt_precisions
        self.failing_precisions = failing_precisions
        self.trt_version = version
        self.new_cache = new_cache
        self.builds: list[tuple[ShapeProfile, BuildSettings, bytes | None]] = []
        self.run_batches: list[int] = []

    def version(self) -> str:
        return self.trt_version

    def gpu(self) -> GpuInfo:
        return GPU

    def build(
        self, onnx_path: Path, profile: ShapeProfile, settings: BuildSettings, cache: bytes | None
    ) -> tuple[bytes, bytes]:
        assert onnx_path == self.onnx_path
        self.builds.append((profile, settings, cache))
        if settings.precision in self.failing_precisions:
            raise EngineBuildError(f"TensorRT could not build an engine from {onnx_path}")
        new_cache = f"cache after {len(self.builds)} builds".encode()
        return FAKE_PLAN, new_cache if self.new_cache is None else self.new_cache

    def run(self, plan: bytes, batch: np.ndarray) -> np.ndarray:
        assert plan == FAKE_PLAN
        self.run_batches.append(batch.shape[0])
        masks = memo_reference(self.onnx_path, batch)
        built_as = self.builds[-1][1].precision
        return (255 - masks) if self.corrupt or built_as in self.corrupt_precisions else masks


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A model repository with u2netp's configs and its staged serving ONNX."""
    onnx_path, _ = staged_paths(tmp_path, OnnxVariant(MODEL.name).name, "model.onnx")
    onnx_path.parent.mkdir(parents=True)
    shutil.copyfile(STAGED_ONNX, onnx_path)
    config = TrtVariant(MODEL.name).get_config()
    config.max_batch_size = 4  # small, and proves the profile comes from this file
    to_file(config, tmp_path)
    return tmp_path


def _paths(repo: Path) -> tuple[Path, Path, Path]:
    plan, manifest = staged_paths(repo, TrtVariant(MODEL.name).name, PLAN)
    return plan, manifest, plan.with_name(TIMING_CACHE)


@needs_staged_onnx
def test_builds_verifies_and_stages(repo: Path) -> None:
    backend = FakeBackend(staged_paths(repo, OnnxVariant(MODEL.name).name, "model.onnx")[0])
    settings = BuildSettings(precision="fp32", opt_batch=2, workspace_gb=1)
    staged = stage_trt(MODEL, repo, settings, backend=backend)

    plan, manifest_path, cache = _paths(repo)
    assert staged == plan
    assert plan.read_bytes() == FAKE_PLAN
    assert cache.read_bytes() == b"cache after 1 builds"
    ((profile, used, reused),) = backend.builds
    assert used == settings
    assert reused is None
    assert profile.max == (4, *CONTRACT.input_dims)  # read from the tmp config.pbtxt
    assert profile.opt == (2, *CONTRACT.input_dims)
    assert backend.run_batches == [1, 4]  # profile min and max (5 samples > max 4)

    manifest = json.loads(manifest_path.read_text())
    assert manifest["model"] == MODEL.name
    assert manifest["variant"] == TrtVariant(MODEL.name).name
    assert manifest["tensorrt_version"] == "10.5.0"
    assert manifest["gpu"] == {"name": "Fake GPU", "compute_capability": "8.6"}
    assert manifest["precision"] == "fp32"
    assert manifest["profile"]["max"] == [4, *CONTRACT.input_dims]
    assert manifest["source_md5"] == md5_of(STAGED_ONNX)
    assert manifest["plan_md5"] == md5_of(plan)
    assert manifest["verification"]["passed"] is True
    assert len(manifest["verification"]["masks"]) == 5
    assert manifest["staged_unverified"] is False
    assert manifest["build_seconds"] >= 0


@needs_staged_onnx
def test_rerun_is_a_no_op_and_force_rebuilds_with_the_timing_cache(repo: Path) -> None:
    backend = FakeBackend(staged_paths(repo, OnnxVariant(MODEL.name).name, "model.onnx")[0])
    settings = BuildSettings(opt_batch=2)
    stage_trt(MODEL, repo, settings, backend=backend)
    stage_trt(MODEL, repo, settings, backend=backend)
    assert len(backend.builds) == 1

    stage_trt(MODEL, repo, BuildSettings(opt_batch=3), backend=backend)  # new profile
    assert len(backend.builds) == 2
    assert backend.builds[1][2] == b"cache after 1 builds"

    stage_trt(MODEL, repo, BuildSettings(opt_batch=3), force=True, backend=backend)
    assert len(backend.builds) == 3
    manifest = json.loads(_paths(repo)[1].read_text())
    assert manifest["timing_cache_found"] is True


@needs_staged_onnx
def test_failed_verification_refuses_to_stage(repo: Path) -> None:
    backend = FakeBackend(
        staged_paths(repo, OnnxVariant(MODEL.name).name, "model.onnx")[0], corrupt=True
    )
    with pytest.raises(EngineBuildError, match=r"disagrees with ONNX Runtime.*not staged"):
        stage_trt(MODEL, repo, BuildSettings(opt_batch=2), backend=backend)
    plan, manifest, cache = _paths(repo)
    assert not plan.exists()
    assert not manifest.exists()
    assert [p.name for p in plan.parent.iterdir()] == [cache.name]  # no temp files left

    stage_trt(MODEL, repo, BuildSettings(opt_batch=2), force=True, backend=backend)
    recorded = json.loads(manifest.read_text())
    assert plan.read_bytes() == FAKE_PLAN
    assert recorded["staged_unverified"] is True
    assert recorded["verification"]["passed"] is False


def _backend(repo: Path, **kwargs: object) -> FakeBackend:
    return FakeBackend(staged_paths(repo, OnnxVariant(MODEL.name).name, "model.onnx")[0], **kwargs)


@needs_staged_onnx
@pytest.mark.parametrize(
    "trouble",
    [{"corrupt_precisions": ("fp16",)}, {"failing_precisions": ("fp16",)}],
    ids=["fp16-disagrees", "fp16-build-fails"],
)
def test_fallback_fp32_stages_fp32_and_a_rerun_keeps_it(
    repo: Path, trouble: dict, caplog: pytest.LogCaptureFixture
) -> None:
    backend = _backend(repo, **trouble)
    settings = BuildSettings(precision="fp16", opt_batch=2)
    with caplog.at_level("WARNING", logger="convert.trt.stage"):
        stage_trt(MODEL, repo, settings, backend=backend, fallback_fp32=True)
    assert [used.precision for _, used, _ in backend.builds] == ["fp16", "fp32"]
    assert "u2netp_trt: the fp16 engine failed" in caplog.text
    assert "building fp32 instead" in caplog.text
    plan, manifest_path, _ = _paths(repo)
    manifest = json.loads(manifest_path.read_text())
    assert (manifest["precision"], manifest["fallback_from"]) == ("fp32", "fp16")
    assert manifest["verification"]["passed"] is True
    assert plan.read_bytes() == FAKE_PLAN

    stage_trt(MODEL, repo, settings, backend=backend, fallback_fp32=True)
    assert len(backend.builds) == 2  # the fallback plan is current: no fp16 retry
    with pytest.raises(EngineBuildError):  # without the flag, fp16 is what was asked for
        stage_trt(MODEL, repo, settings, backend=backend)


@needs_staged_onnx
def test_without_the_flag_or_when_fp32_fails_too_nothing_is_staged(repo: Path) -> None:
    backend = _backend(repo, corrupt=True)
    settings = BuildSettings(precision="fp16", opt_batch=2)
    with pytest.raises(EngineBuildError, match="disagrees"):
        stage_trt(MODEL, repo, settings, backend=backend)
    assert len(backend.builds) == 1
    with pytest.raises(EngineBuildError, match="disagrees"):
        stage_trt(MODEL, repo, settings, backend=backend, fallback_fp32=True)
    assert [used.precision for _, used, _ in backend.builds[1:]] == ["fp16", "fp32"]
    assert not _paths(repo)[0].exists()


@needs_staged_onnx
def test_a_plan_another_tensorrt_built_is_removed_when_the_rebuild_fails(repo: Path) -> None:
    settings = BuildSettings(precision="fp32", opt_batch=2)
    stage_trt(MODEL, repo, settings, backend=_backend(repo, version="10.5.0"))
    plan, manifest, _ = _paths(repo)

    same_trt = _backend(repo, version="10.5.0", failing_precisions=("fp16",))
    with pytest.raises(EngineBuildError):
        stage_trt(MODEL, repo, BuildSettings(precision="fp16", opt_batch=2), backend=same_trt)
    assert plan.exists() and manifest.exists()  # it still loads: keep it

    upgraded = _backend(repo, version="10.6.0", failing_precisions=("fp32",))
    with pytest.raises(EngineBuildError):
        stage_trt(MODEL, repo, settings, backend=upgraded)
    assert not plan.exists() and not manifest.exists()


@needs_staged_onnx
def test_an_empty_timing_cache_is_not_written(repo: Path) -> None:
    stage_trt(MODEL, repo, BuildSettings(opt_batch=2), backend=_backend(repo, new_cache=b""))
    plan, _, cache = _paths(repo)
    assert plan.exists() and not cache.exists()


def test_missing_staged_onnx_is_one_clear_error(tmp_path: Path) -> None:
    to_file(TrtVariant(MODEL.name).get_config(), tmp_path)
    with pytest.raises(EngineBuildError, match="python -m convert --models u2netp"):
        stage_trt(MODEL, tmp_path, backend=FakeBackend(tmp_path / "none.onnx"))


def _inputs(**changes: object) -> dict:
    profile = profile_from_config(TrtVariant(MODEL.name).get_config(), 8)
    kwargs = {
        "tensorrt_version": "10.5.0",
        "gpu": GPU,
        "profile": profile,
        "settings": BuildSettings(),
        "source_md5": "abc",
    } | changes
    return fingerprint(**kwargs)


def test_engine_manifest_is_pure_json_data() -> None:
    verification = Verification((MaskAgreement("a.png@batch1", 0.999, 0.4, 3),))
    manifest = engine_manifest(
        model=MODEL.name,
        inputs=_inputs(),
        plan=b"plan",
        build_seconds=12.345,
        timing_cache_found=False,
        verification=verification,
        forced=False,
        built_at="2024-10-01T00:00:00+00:00",
    )
    assert json.loads(json.dumps(manifest)) == manifest
    assert manifest["variant"] == "u2netp_trt"
    assert manifest["plan_md5"] == hashlib.md5(b"plan").hexdigest()
    assert manifest["plan_bytes"] == 4
    assert manifest["build_seconds"] == 12.35
    assert manifest["precision"] == "fp16"
    assert manifest["gpu"]["compute_capability"] == "8.6"
    assert manifest["profile"]["opt"][0] == 8
    assert manifest["verification"]["masks"][0]["iou"] == 0.999
    assert manifest["staged_unverified"] is False
    assert manifest["fallback_from"] is None


@pytest.mark.parametrize(
    "change",
    [
        {"tensorrt_version": "10.6.0"},
        {"gpu": GpuInfo("Other GPU", "8.9")},
        {"settings": BuildSettings(precision="fp32")},
        {"settings": BuildSettings(workspace_gb=8)},
        {"source_md5": "def"},
    ],
    ids=["trt", "gpu", "precision", "workspace", "source"],
)
def test_up_to_date_notices_every_input(change: dict) -> None:
    manifest = {**_inputs(), "plan_md5": "p", "verification": {"passed": True}}
    assert plan_up_to_date(manifest, "p", _inputs())
    assert not plan_up_to_date(manifest, "p", _inputs(**change))


def test_a_plan_from_an_older_build_recipe_is_rebuilt() -> None:
    manifest = {**_inputs(), "plan_md5": "p", "verification": {"passed": True}}
    assert plan_up_to_date(manifest, "p", _inputs())
    assert not plan_up_to_date({**manifest, "build_recipe": BUILD_RECIPE - 1}, "p", _inputs())


@pytest.mark.parametrize(
    ("built", "loads"),
    [
        ({"tensorrt_version": "10.5.0", "gpu": {"compute_capability": "8.6"}}, True),
        ({"tensorrt_version": "10.6.0", "gpu": {"compute_capability": "8.6"}}, False),
        ({"tensorrt_version": "10.5.0", "gpu": {"compute_capability": "8.9"}}, False),
        (None, True),
    ],
    ids=["same", "other-tensorrt", "other-gpu", "hand-staged"],
)
def test_loads_here(built: dict | None, loads: bool) -> None:
    assert plan_loads_with(built, _inputs()) is loads


def test_up_to_date_needs_a_verified_intact_plan() -> None:
    manifest = {**_inputs(), "plan_md5": "p", "verification": {"passed": True}}
    assert not plan_up_to_date(manifest, "other", _inputs())
    assert not plan_up_to_date(manifest, None, _inputs())
    assert not plan_up_to_date(None, "p", _inputs())
    forced = {**manifest, "verification": {"passed": False}}
    assert not plan_up_to_date(forced, "p", _inputs())
