"""`python -m convert trt` argument handling and its one-line failure without TensorRT."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

from convert.trt.profile import FAMILY_OPT_BATCH, trt_config_path
from tests.cli_run import run_cli
from tests.data import REPOSITORY
from u2net.contract import ISNET_FAMILY
from u2net.repository.layout import ONNX_FILE, read_config, staged_paths
from u2net.repository.manifests import OnnxManifest, write_manifest

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None


def _convert(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("convert", *args, timeout=120)


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--precision", "int4"], "invalid choice: 'int4'"),
        (["--opt-batch", "0"], "--opt-batch: expected a whole number ≥ 1, got '0'"),
        (["--opt-batch", "eight"], "--opt-batch: expected a whole number ≥ 1, got 'eight'"),
        (["--workspace-gb", "-1"], "--workspace-gb: expected a number > 0, got '-1'"),
        (["--models", "u2net_cloth_seg"], "expected model names"),
    ],
    ids=["precision", "opt-zero", "opt-text", "workspace", "model"],
)
def test_bad_arguments_are_usage_errors(args: list[str], complaint: str) -> None:
    done = _convert("trt", *args)
    assert done.returncode == 2
    assert complaint in done.stderr
    assert "Traceback" not in done.stderr


def test_help_lists_the_flags() -> None:
    done = _convert("trt", "--help")
    assert done.returncode == 0
    for flag in (
        "--models",
        "--opt-batch",
        "--precision",
        "--workspace-gb",
        "--force",
        "--fallback-fp32",
    ):
        assert flag in done.stdout
    assert "{fp16,fp32,int8}" in done.stdout


@pytest.mark.skipif(HAS_TENSORRT, reason="tensorrt is installed here; this checks its absence")
def test_without_tensorrt_one_line_and_exit_1() -> None:
    done = _convert("trt")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: TensorRT is not installed")
    assert "u2net-triton[gpu]" in lines[0]
    assert "nvcr.io/nvidia/tensorrt:24.10-py3" in lines[0]
    assert done.stdout == ""


def test_opt_batch_above_the_config_max_is_one_line() -> None:
    max_batch = read_config(trt_config_path(REPOSITORY, "u2netp")).max_batch_size
    done = _convert("trt", "--models", "u2netp", "--opt-batch", str(max_batch + 1))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: --opt-batch {max_batch + 1} exceeds u2netp_trt's max_batch_size {max_batch}"
    ]


def test_repository_without_the_staged_graph_is_one_line(tmp_path: Path) -> None:
    done = _convert("trt", "--model-repository", str(tmp_path), "--models", "u2netp")
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "stage it first with `python -m convert --models u2netp`" in done.stderr
    assert not list(tmp_path.iterdir())


def test_help_gives_each_familys_opt_batch() -> None:
    done = _convert("trt", "--help")
    families = ", ".join(f"{n} for the {f} family" for f, n in FAMILY_OPT_BATCH.items())
    assert f"(default: {families})" in " ".join(done.stdout.split())


def test_a_custom_model_staged_in_the_repository_is_taken(tmp_path: Path) -> None:
    _staged, manifest = staged_paths(tmp_path, "my_dis_onnx", ONNX_FILE)
    manifest.parent.mkdir(parents=True)
    write_manifest(manifest, OnnxManifest("my_dis", "s", 1, "o", ISNET_FAMILY, True).as_dict())
    taken = _convert("trt", "--model-repository", str(tmp_path), "--models", "my_dis")
    assert taken.returncode == 1  # its graph is gone: the one line says how to stage it
    assert "stage it first with `python -m convert custom my_dis --family isnet" in taken.stderr
    refused = _convert("trt", "--model-repository", str(tmp_path), "--models", "your_dis")
    assert refused.returncode == 2
    assert f"custom model staged in {tmp_path} (my_dis), got 'your_dis'" in refused.stderr
