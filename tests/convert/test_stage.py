"""`python -m convert`: stage the serving graph, with a manifest; a rerun is a no-op."""

from __future__ import annotations

import json
from pathlib import Path

from convert.graph import GRAPH_VERSION
from convert.model_config import OnnxVariant
from tests.cli_run import run_cli
from tests.data import original_model
from u2net.catalogue import KNOWN_MODELS
from u2net.repository.files import md5_of
from u2net.repository.layout import read_config


def test_stage_then_rerun_is_a_no_op(tmp_path: Path) -> None:
    original_model("u2netp")  # skip if not fetched
    repo = tmp_path / "repo"
    first = run_cli("convert", "--models", "u2netp", "--model-repository", repo)
    assert first.returncode == 0, first.stderr
    staged = repo / "u2netp_onnx" / "1" / "model.onnx"
    manifest = json.loads((repo / "u2netp_onnx" / "1" / "manifest.json").read_text())
    assert manifest == {
        "model": "u2netp",
        "source_md5": KNOWN_MODELS["u2netp"].md5,
        "converter_version": GRAPH_VERSION,
        "output_md5": md5_of(staged),
        "family": "u2net",
        "custom": False,
    }
    config = read_config(repo / "u2netp_onnx" / "config.pbtxt")
    assert config == OnnxVariant("u2netp").get_config()
    assert sorted(p.name for p in staged.parent.iterdir()) == ["manifest.json", "model.onnx"]

    mtime = staged.stat().st_mtime_ns
    second = run_cli("convert", "--models", "u2netp", "--model-repository", repo)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stderr
    assert staged.stat().st_mtime_ns == mtime


def test_damaged_staged_file_is_rebuilt(tmp_path: Path) -> None:
    original_model("u2netp")
    repo = tmp_path / "repo"
    assert run_cli("convert", "--models", "u2netp", "--model-repository", repo).returncode == 0
    staged = repo / "u2netp_onnx" / "1" / "model.onnx"
    good = md5_of(staged)
    staged.write_bytes(b"damaged")
    again = run_cli("convert", "--models", "u2netp", "--model-repository", repo)
    assert again.returncode == 0, again.stderr
    assert md5_of(staged) == good
