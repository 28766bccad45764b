"""The compose services' scripts, run on CPU with stand-in commands (tests/deploy_run.py).

deploy/convert/run.sh: ONNX staging must succeed; each TensorRT engine may fail without
stopping the stack. deploy/triton/serve.sh: loads a TensorRT variant only when its plan
is staged, so Triton starts and serves the ONNX variants whatever happened to TensorRT.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from server.command import ADMIN_PROTOCOLS, OFF_HEADER, UNSENDABLE
from tests.deploy_run import (
    CONVERT_SCRIPT,
    ROOT,
    SERVE_SCRIPT,
    ScriptRun,
    restrictions,
    run_script,
)
from u2net.catalogue import MODEL_NAMES
from u2net.contract import CUTOUT

SOURCES = ("pyproject.toml", "README.md", "u2net", "client", "convert", "server", "doctor")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A stand-in checkout: what run.sh copies, and an empty model repository."""
    root = tmp_path / "checkout"
    for name in SOURCES:
        path = root / name
        if "." in name:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("stand-in\n")
        else:
            (path / "__init__.py").parent.mkdir(parents=True)
            (path / "__init__.py").write_text("")
    (root / "model_repository").mkdir()
    return root


def _convert(checkout: Path, fail: str = "", cuda: str = "12.6.2.004") -> ScriptRun:
    env = {"STUB_FAIL": fail, "CUDA_VERSION": cuda, "U2NET_MODEL_REPOSITORY": ""}
    env |= {"U2NET_TRT_MODELS": "", "TRT_PRECISION": ""}
    stubs = ("python3", "python")
    return run_script(CONVERT_SCRIPT, checkout, env, stubs, scratch=checkout.parent / "stubs")


def _python_steps(run: ScriptRun) -> list[list[str]]:
    return [shlex.split(call)[1:] for call in run.calls if call.startswith("python3 ")]


def test_convert_installs_a_copy_then_stages_then_builds_each_engine(checkout: Path) -> None:
    run = _convert(checkout)
    assert run.returncode == 0, run.stderr
    install, stage, *engines = _python_steps(run)
    assert install[:4] == ["-m", "pip", "install", "--no-cache-dir"]
    (copy,) = [a for a in install if a.endswith("[ngc]")]
    assert not Path(copy.removesuffix("[ngc]")).is_relative_to(checkout)  # not in the checkout
    assert "cuda-python==12.*" in install
    repository = str(checkout / "model_repository")
    assert stage == ["-m", "convert", "--model-repository", repository, "--models", "u2net,u2netp"]
    assert [e[e.index("--models") + 1] for e in engines] == list(MODEL_NAMES)
    for engine in engines:
        assert engine[:3] == ["-m", "convert", "trt"]
        assert "--fallback-fp32" in engine
        assert engine[engine.index("--precision") + 1] == "fp16"
        assert engine[engine.index("--model-repository") + 1] == repository
    assert sorted(p.name for p in checkout.iterdir()) == sorted([*SOURCES, "model_repository"])


def test_convert_calls_python3_never_python(checkout: Path) -> None:
    run = _convert(checkout)
    assert not [call for call in run.calls if call.startswith("python ")]
    assert _python_steps(run)


def test_a_failed_engine_does_not_stop_the_stack(checkout: Path) -> None:
    run = _convert(checkout, fail=r"convert trt .*--models u2net ")
    assert run.returncode == 0
    assert "no TensorRT engine for u2net; triton serves u2net_onnx alone" in run.stderr
    built = [s[s.index("--models") + 1] for s in _python_steps(run) if s[2:3] == ["trt"]]
    assert built == ["u2net", "u2netp"]  # u2netp is still tried


def test_failed_onnx_staging_stops_before_triton(checkout: Path) -> None:
    run = _convert(checkout, fail=r"^python3 -m convert --model-repository")
    assert run.returncode != 0
    assert not [s for s in _python_steps(run) if s[2:3] == ["trt"]]


@pytest.mark.parametrize(("cuda", "pin"), [("12.6.2.004", "12"), ("13.0.1", "13"), ("", "12")])
def test_cuda_python_follows_the_image_cuda(checkout: Path, cuda: str, pin: str) -> None:
    install = _python_steps(_convert(checkout, cuda=cuda))[0]
    assert f"cuda-python=={pin}.*" in install


def _serve(repository: Path, key: str = "") -> ScriptRun:
    env = {"MODEL_REPOSITORY": str(repository), "TRITON_ADMIN_KEY": key, "U2NET_MODELS": ""}
    scratch = repository.parent / "stubs"
    return run_script(SERVE_SCRIPT, repository.parent, env, ("tritonserver",), scratch=scratch)


def _stage_plans(repository: Path, models: list[str]) -> None:
    for model in models:
        plan = repository / f"{model}_trt" / "1" / "model.plan"
        plan.parent.mkdir(parents=True)
        plan.write_bytes(b"plan")


def _loaded(run: ScriptRun) -> list[str]:
    return sorted(a.split("=", 1)[1] for a in run.args if a.startswith("--load-model="))


@pytest.mark.parametrize(
    "with_plans", [[], ["u2netp"], list(MODEL_NAMES)], ids=["none", "u2netp", "all"]
)
def test_triton_loads_a_tensorrt_variant_only_with_its_plan(
    tmp_path: Path, with_plans: list[str]
) -> None:
    repository = tmp_path / "models"
    _stage_plans(repository, with_plans)
    run = _serve(repository)
    assert run.returncode == 0, run.stderr
    onnx = [f"{m}_onnx" for m in MODEL_NAMES]
    assert _loaded(run) == sorted([*onnx, *(f"{m}_trt" for m in with_plans), CUTOUT.name])
    for model in set(MODEL_NAMES) - set(with_plans):
        assert f"serving {model}_onnx alone" in run.stderr
    assert f"--model-repository={repository}" in run.args


def test_an_empty_plan_does_not_count(tmp_path: Path) -> None:
    repository = tmp_path / "models"
    _stage_plans(repository, ["u2net"])
    (repository / "u2net_trt" / "1" / "model.plan").write_bytes(b"")
    assert "u2net_trt" not in _loaded(_serve(repository))


RESTRICTED_FLAGS = ("--http-restricted-api", "--grpc-restricted-protocol")


@pytest.mark.parametrize("flag", RESTRICTED_FLAGS)
def test_without_a_key_every_admin_api_needs_an_unsendable_header(
    tmp_path: Path, flag: str
) -> None:
    (tmp_path / "models").mkdir()
    run = _serve(tmp_path / "models")
    off = f"{OFF_HEADER}={UNSENDABLE}"
    assert restrictions(run.args, flag) == dict.fromkeys(ADMIN_PROTOCOLS, off)
    assert "\n" in UNSENDABLE  # what makes it unsendable (and no secret)


@pytest.mark.parametrize("flag", RESTRICTED_FLAGS)
def test_a_given_key_opens_only_the_repository_api(tmp_path: Path, flag: str) -> None:
    (tmp_path / "models").mkdir()
    granted = restrictions(_serve(tmp_path / "models", key="s3cret").args, flag)
    assert granted.pop("model-repository") == "admin-key=s3cret"
    assert granted == dict.fromkeys(ADMIN_PROTOCOLS[1:], f"{OFF_HEADER}={UNSENDABLE}")


def test_scripts_are_in_the_checkout_where_compose_runs_them() -> None:
    assert CONVERT_SCRIPT.is_relative_to(ROOT) and SERVE_SCRIPT.is_relative_to(ROOT)


def test_convert_stages_and_builds_rembgs_other_models_and_custom_ones(checkout: Path) -> None:
    env = {"CUDA_VERSION": "12.6", "U2NET_MODEL_REPOSITORY": "", "TRT_PRECISION": ""}
    env |= {"U2NET_TRT_MODELS": "u2net,isnet-general-use", "U2NET_CUSTOM_MODELS": "my_dis"}
    run = run_script(CONVERT_SCRIPT, checkout, env, ("python3",), scratch=checkout.parent / "s")
    assert run.returncode == 0, run.stderr
    steps = _python_steps(run)
    (stage,) = [s for s in steps if s[:2] == ["-m", "convert"] and s[2:3] != ["trt"]]
    assert stage[stage.index("--models") + 1] == "u2net,isnet-general-use"  # catalogue only
    built = [s[s.index("--models") + 1] for s in steps if s[2:3] == ["trt"]]
    assert built == ["u2net", "isnet-general-use", "my_dis"]


@pytest.mark.parametrize("separator", [",", " "])
def test_triton_serves_the_models_named_and_the_custom_ones(tmp_path: Path, separator: str) -> None:
    repository = tmp_path / "models"
    _stage_plans(repository, ["isnet-general-use"])
    env = {"MODEL_REPOSITORY": str(repository), "TRITON_ADMIN_KEY": ""}
    env |= {"U2NET_MODELS": separator.join(["u2net", "isnet-general-use"])}
    env |= {"U2NET_CUSTOM_MODELS": "my_dis"}
    run = run_script(SERVE_SCRIPT, tmp_path, env, ("tritonserver",), scratch=tmp_path / "stubs")
    assert run.returncode == 0, run.stderr
    served = ["u2net_onnx", "isnet-general-use_onnx", "isnet-general-use_trt", "my_dis_onnx"]
    assert _loaded(run) == sorted([*served, CUTOUT.name])
