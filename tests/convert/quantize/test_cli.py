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
