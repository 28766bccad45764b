"""`python -m convert quantize`: one line per variant, exit 1 when one is left unstaged."""

from __future__ import annotations

from pathlib import Path

import pytest

from convert import cli
from convert.quantize.measure import Speed
from convert.quantize.stage import Outcome
from u2net.agreement import MaskAgreement
from u2net.catalogue import KnownModel

HELD = (MaskAgreement("rocket.jpg", 0.8171, 0.72, 52), MaskAgreement("coins.png", 0.9361, 4.44, 40))


def _fake(passed_models: set[str]):
    calls: list[tuple[str, bool]] = []

    def stage_int8(model: KnownModel, repository: Path, force: bool = False) -> Outcome:
        calls.append((model.name, force))
        staged = force or model.name in passed_models
        path = repository / f"{model.name}_int8" / "1" / "model.onnx" if staged else None
        passed = model.name in passed_models
        speed = Speed(1.0, 0.5, 15)
        return Outcome(f"{model.name}_int8", path, passed, HELD, speed, ("stage2d",))

    return stage_int8, calls


def test_a_variant_missing_the_bar_is_reported_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake, calls = _fake({"u2netp"})
    monkeypatch.setattr(cli, "stage_int8", fake)
    code = cli.main(["quantize", "--models", "u2net,u2netp", "--model-repository", str(tmp_path)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1 and calls == [("u2net", False), ("u2netp", False)]
    assert out[0].startswith("u2net_int8: misses the bar on 2 held-out photos (worst IoU 0.8171")
    assert "2.00x fp32" in out[0] and out[0].endswith("not staged (--force stages it)")
    assert out[1].startswith("u2netp_int8: meets the bar") and "staged" in out[1]


def test_force_stages_it_anyway(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake, calls = _fake(set())
    monkeypatch.setattr(cli, "stage_int8", fake)
    code = cli.main(
        ["quantize", "--models", "u2net", "--force", "--model-repository", str(tmp_path)]
    )
    assert code == 0 and calls == [("u2net", True)]
    assert "misses the bar" in capsys.readouterr().out


def test_a_current_forced_variant_is_left_alone_and_still_reported_as_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from convert.graph import GRAPH_VERSION
    from u2net.catalogue import KNOWN_MODELS
    from u2net.files import md5_of
    from u2net.manifests import int8_manifest, write_manifest
    from u2net.repository import ONNX_FILE, staged_paths

    staged, manifest = staged_paths(tmp_path, "u2netp_int8", ONNX_FILE)
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"stand-in")
    recorded = int8_manifest(
        model="u2netp",
        variant="u2netp_int8",
        source_md5=KNOWN_MODELS["u2netp"].md5,
        converter_version=GRAPH_VERSION,
        output_md5=md5_of(staged),
        calibration_photos=[],
        calibration_cache="calibration-x.json",
        search_photos=[],
        fp32_blocks=["stage2d"],
        excluded_nodes=[],
        held_out=HELD,
        speed={"fp32_ms": 300.0, "int8_ms": 330.0, "speedup": 0.91, "runs": 15},
        passed=False,
        forced=True,
    )
    write_manifest(manifest, recorded)
    code = cli.main(["quantize", "--models", "u2netp", "--model-repository", str(tmp_path)])
    line = capsys.readouterr().out.strip()
    assert code == 0 and staged.read_bytes() == b"stand-in"
    assert line.startswith("u2netp_int8: misses the bar") and "0.91x fp32" in line
