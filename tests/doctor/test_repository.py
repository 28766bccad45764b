"""The doctor's repository checks on copies of the committed repository: ``cutout`` (a Python
model, no ONNX file) and the custom CPU configurations are read and checked too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from convert.model_config import OnnxVariant, TrtVariant, write_configs
from doctor.check import Status
from doctor.repository import (
    inspect_model,
    inspect_repository,
    model_check,
    staged_check,
    tensor_problems,
)
from tests.data import REPOSITORY
from tests.doctor import data
from u2net.contract import CUTOUT
from u2net.repository.layout import read_config

COMMITTED = REPOSITORY
ONNX = "u2netp_onnx"


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """The committed configs and ``cutout``'s code; nothing staged for the U²-Net models."""
    for name in (CUTOUT.name, ONNX):
        shutil.copytree(
            COMMITTED / name, tmp_path / name, ignore=shutil.ignore_patterns("*.onnx", "*.json")
        )
    return tmp_path


def test_cutout_is_staged_by_its_code_and_agrees_with_its_contract(repository: Path) -> None:
    check = model_check(inspect_model(repository, CUTOUT.name), [], "cpu")
    assert (check.status, check.detail) == (
        Status.OK,
        "config agrees with the contract; model.py staged",
    )


def test_cutout_without_its_code_is_not_staged_and_the_fix_is_not_convert(
    repository: Path,
) -> None:
    (repository / CUTOUT.name / "1" / "model.py").unlink()
    check = staged_check(repository, inspect_repository(repository), "cpu")
    assert "not staged: cutout (its model.py is missing: restore model_repository/cutout/" in (
        check.detail
    )
    assert "--models cutout" not in check.detail


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (
            lambda text: text.replace("max_batch_size: 16", "max_batch_size: sixteen"),
            "does not parse",
        ),
        (lambda text: text.replace("dims: 320\n}", "dims: 321\n}"), "configs/cpu.pbtxt: expected"),
    ],
    ids=["unparseable", "wrong-output-dims"],
)
def test_a_broken_cpu_configuration_is_reported(repository: Path, edit, says: str) -> None:
    cpu = repository / ONNX / "configs" / "cpu.pbtxt"
    cpu.write_text(edit(cpu.read_text()))
    (repository / ONNX / "1").mkdir(exist_ok=True)
    (repository / ONNX / "1" / "model.onnx").write_bytes(b"stands in for the staged graph")
    check = model_check(inspect_model(repository, ONNX), [], "cpu")
    assert check.status is Status.FAIL and check.blocking
    assert says in check.detail


def test_the_committed_repository_passes(repository: Path) -> None:
    (repository / ONNX / "1").mkdir(exist_ok=True)
    (repository / ONNX / "1" / "model.onnx").write_bytes(b"stands in for the staged graph")
    checks = [model_check(m, [], "cpu") for m in inspect_repository(repository)]
    assert [c.status for c in checks] == [Status.OK, Status.OK]


@pytest.mark.parametrize(
    ("release", "status", "says"),
    [
        (None, Status.FAIL, "tritonserver:24.10-py3 runs TensorRT 10.5.0"),
        ("24.10", Status.FAIL, "tritonserver:24.10-py3 runs TensorRT 10.5.0"),
        ("26.01", Status.OK, "$NGC_RELEASE=26.01 is not the pinned 24.10"),
    ],
    ids=["pinned-release", "pinned-release-named", "another-release"],
)
def test_a_plan_is_compared_with_the_tensorrt_of_the_release_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, release: str | None, status: Status, says: str
) -> None:
    """A TensorRT 11 plan is wrong for 24.10, and not called wrong under another release."""
    if release is None:
        monkeypatch.delenv("NGC_RELEASE", raising=False)
    else:
        monkeypatch.setenv("NGC_RELEASE", release)
    repository = data.repository_with_plan(tmp_path, "11.0.0", "8.9")
    check = model_check(inspect_model(repository, "u2netp_trt"), ["8.9"], "gpu")
    assert check.status is status and says in check.detail


@pytest.mark.parametrize(
    "variant",
    [OnnxVariant("isnet-anime"), TrtVariant("u2net"), OnnxVariant("u2netp", int8=True)],
    ids=lambda v: v.name,
)
def test_a_config_convert_writes_agrees_with_the_doctor(tmp_path: Path, variant) -> None:
    for path in write_configs(variant, tmp_path):
        assert tensor_problems(read_config(path), variant.name, variant.contract) == []


def test_a_config_of_another_data_type_is_reported_in_the_configs_spelling(
    repository: Path,
) -> None:
    default = repository / ONNX / "config.pbtxt"
    default.write_text(default.read_text().replace("TYPE_UINT8", "TYPE_FP32", 1))
    (repository / ONNX / "1").mkdir(exist_ok=True)
    (repository / ONNX / "1" / "model.onnx").write_bytes(b"stands in for the staged graph")
    check = model_check(inspect_model(repository, ONNX), [], "cpu")
    assert check.status is Status.FAIL
    assert (
        "expected input [('image', 'TYPE_UINT8', [320, 320, 3])],"
        " got [('image', 'TYPE_FP32', [320, 320, 3])]"
    ) in check.detail
