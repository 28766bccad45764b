"""`python -m convert quantize` prints each photo's agreement beside fp32's floor and one line
per variant, exit 1 when one is left unstaged; `python -m convert` builds the variants that
have a recipe and reports the rest without failing."""

from __future__ import annotations

from pathlib import Path

import pytest

from convert import cli
from convert.errors import QuantizeError
from convert.quantize.certify import Certification
from convert.quantize.measure import Speed
from convert.quantize.recipe import Recipe
from convert.quantize.stage import Outcome
from u2net.agreement import Certified, MaskAgreement, NoiseFloor
from u2net.catalogue import KnownModel

INSIDE = Certified(
    MaskAgreement("coins.png", 0.9361, 4.44, 40), NoiseFloor("coins.png", 0.933, 6.29)
)
OUTSIDE = Certified(
    MaskAgreement("rocket.jpg", 0.70, 0.9, 52), NoiseFloor("rocket.jpg", 0.757, 0.85)
)
RECIPE = Recipe(model="u2net", source_md5="abc", graph_version=1, fp32_blocks=("stage2d",))


def _fake(certified: set[str], recipes: set[str] = frozenset({"u2net", "u2netp"})):
    calls: list[tuple[str, bool, bool, bool]] = []

    def stage_int8(
        model: KnownModel,
        repository: Path,
        force: bool = False,
        search: bool = False,
        remeasure: bool = False,
    ) -> Outcome:
        calls.append((model.name, force, search, remeasure))
        if model.name not in recipes:
            return Outcome(f"{model.name}_int8", None, False)
        passed = model.name in certified
        photos = (INSIDE,) if passed else (INSIDE, OUTSIDE)
        staged = repository / f"{model.name}_int8" / "1" / "model.onnx" if passed or force else None
        proof = Certification(photos, Speed(1.0, 0.5, 10))
        return Outcome(f"{model.name}_int8", staged, passed, proof, RECIPE)

    return stage_int8, calls


def _quantize(tmp_path: Path, *extra: str) -> int:
    models = ["--models", "u2net,u2netp", "--model-repository", str(tmp_path)]
    return cli.main(["quantize", *models, *extra])


def test_the_table_shows_both_columns_and_the_line_says_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake, calls = _fake({"u2netp"})
    monkeypatch.setattr(cli, "stage_int8", fake)
    code = _quantize(tmp_path)
    out = capsys.readouterr().out.splitlines()
    assert code == 1 and calls == [("u2net", False, False, True), ("u2netp", False, False, True)]
    header = out[1]
    assert "IoU" in header and "floor IoU" in header and "floor mean |Δ|" in header
    (missed,) = [line for line in out if line.startswith("u2net_int8:")]
    assert "not certified" in missed and "inside fp32's noise floor on 1/2" in missed
    assert "rocket.jpg IoU 0.700" in missed and "floor of 0.757" in missed
    assert "2.00x fp32" in missed and missed.endswith("not staged (--force stages it)")
    (met,) = [line for line in out if line.startswith("u2netp_int8:")]
    assert ": certified" in met and "staged" in met


def test_force_and_search_reach_the_stage(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake, calls = _fake(set())
    monkeypatch.setattr(cli, "stage_int8", fake)
    assert _quantize(tmp_path, "--force", "--search") == 0
    assert calls == [("u2net", True, True, True), ("u2netp", True, True, True)]
    assert "not certified" in capsys.readouterr().out


def test_a_model_without_a_recipe_is_a_note_naming_the_command_that_makes_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake, _calls = _fake(set(), recipes=set())
    monkeypatch.setattr(cli, "stage_int8", fake)
    assert cli.main(["quantize", "--models", "u2netp", "--model-repository", str(tmp_path)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("u2netp_int8: no recipe in ")
    assert "`python -m convert quantize --search --models u2netp`" in line


def test_staging_builds_only_the_variants_with_a_recipe_and_never_fails_on_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake, calls = _fake(set(), recipes={"u2net"})
    staged: list[str] = []
    monkeypatch.setattr(cli, "stage_int8", fake)
    monkeypatch.setattr(cli, "stage_onnx", lambda model, repository: staged.append(model.name))
    monkeypatch.setattr(cli, "read_recipe", lambda name: RECIPE if name == "u2net" else None)
    code = cli.main(["--models", "u2net,u2netp", "--model-repository", str(tmp_path)])
    assert code == 0 and staged == ["u2net", "u2netp"]
    assert calls == [("u2net", False, False, False)]  # a miss remembered here is not remeasured
    assert capsys.readouterr().out.startswith("u2net_int8: not certified")


def test_an_int8_build_that_fails_leaves_fp32_staged_and_exit_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def broken(*_args, **_kwargs) -> Outcome:
        raise QuantizeError("int8 quantization needs ONNX Runtime; run `pip install onnxruntime`")

    monkeypatch.setattr(cli, "stage_int8", broken)
    monkeypatch.setattr(cli, "stage_onnx", lambda model, repository: None)
    monkeypatch.setattr(cli, "read_recipe", lambda name: RECIPE)
    assert cli.main(["--models", "u2net", "--model-repository", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("u2net_int8: not built: int8 quantization needs")
