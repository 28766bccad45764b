"""deploy/k8s/components/isnet-<overlay>: rembg's IS-Net beside the default models, rendered
over its overlay (never applied to a cluster): the init container stages it (and on GPU
builds its engine), Triton serves it, the cpu pod gets more memory, GPU nodes with the
memory it needs are preferred. The schemas are checked in test_k8s_schemas.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.conftest import (
    ISNET_COMPONENTS,
    K8S,
    Doc,
    Rendered,
    container,
    env_of,
    kustomize,
    with_component,
)
from tests.deploy_run import CONVERT_SCRIPT, SERVE_SCRIPT, run_script
from u2net.catalogue import KNOWN_MODELS, MODEL_NAMES
from u2net.contract import CUTOUT, ISNET_FAMILY

STAGE_SCRIPT = CONVERT_SCRIPT.with_name("stage.sh")
MEBI = {"Mi": 1 << 20, "Gi": 1 << 30}


@pytest.fixture(scope="module", params=ISNET_COMPONENTS, ids=lambda c: c.name)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    overlay = request.param.name.removeprefix("isnet-")
    scratch = tmp_path_factory.mktemp(request.param.name)
    return Rendered(
        overlay, kustomize(with_component(scratch, K8S / "overlays" / overlay, request.param))
    )


def _plain(overlay: str) -> Rendered:
    return Rendered(overlay, kustomize(K8S / "overlays" / overlay))


def _models(rendered: Rendered) -> tuple[list[str], list[str]]:
    pod = rendered.get("Deployment", "triton")
    staged = env_of(container(pod, "convert", init=True))["U2NET_TRT_MODELS"].split(",")
    served = env_of(container(pod, "triton"))["U2NET_MODELS"].split(",")
    return staged, served


def test_the_default_models_and_an_isnet_are_staged_and_served(rendered: Rendered) -> None:
    staged, served = _models(rendered)
    assert staged == served
    assert set(staged) <= set(KNOWN_MODELS)
    assert staged[: len(MODEL_NAMES)] == list(MODEL_NAMES)
    assert any(KNOWN_MODELS[m].family == ISNET_FAMILY for m in staged)


def test_the_init_container_stages_it_and_builds_its_engine_on_gpu(
    rendered: Rendered, tmp_path: Path
) -> None:
    env = env_of(container(rendered.get("Deployment", "triton"), "convert", init=True))
    env |= {"U2NET_MODEL_REPOSITORY": str(tmp_path / "models"), "U2NET_REPOSITORY_TEMPLATE": ""}
    run = run_script(STAGE_SCRIPT, tmp_path, env, ("python3",), tmp_path / "stubs")
    assert run.returncode == 0, run.stderr
    steps = [c.split()[1:] for c in run.calls]
    assert steps[0][-2:] == ["--models", env["U2NET_TRT_MODELS"]]
    built = [s[s.index("--models") + 1] for s in steps if s[2:3] == ["trt"]]
    assert built == (env["U2NET_TRT_MODELS"].split(",") if rendered.name == "gpu" else [])


def test_triton_loads_it(rendered: Rendered, tmp_path: Path) -> None:
    triton = container(rendered.get("Deployment", "triton"), "triton")
    env = env_of(triton) | {"MODEL_REPOSITORY": str(tmp_path / "models"), "TRITON_ADMIN_KEY": ""}
    args = tuple(triton["args"])
    run = run_script(SERVE_SCRIPT, tmp_path, env, ("tritonserver",), tmp_path, args=args)
    assert run.returncode == 0, run.stderr
    loaded = sorted(a.split("=", 1)[1] for a in run.args if a.startswith("--load-model="))
    _staged, served = _models(rendered)
    assert loaded == sorted([*(f"{m}_onnx" for m in served), CUTOUT.name])


def _memory(spec: Doc, kind: str) -> int:
    text = spec["resources"][kind]["memory"]
    return int(text[:-2]) * MEBI[text[-2:]]


@pytest.mark.parametrize(("name", "init"), [("convert", True), ("triton", False)])
def test_memory_never_drops_below_the_overlays(rendered: Rendered, name: str, init: bool) -> None:
    plain = container(_plain(rendered.name).get("Deployment", "triton"), name, init=init)
    with_isnet = container(rendered.get("Deployment", "triton"), name, init=init)
    for kind in ("requests", "limits"):
        assert _memory(with_isnet, kind) >= _memory(plain, kind)
        assert _memory(with_isnet, "requests") <= _memory(with_isnet, "limits")
    if rendered.name == "cpu" and not init:  # the 1024² model's activations: more memory
        assert _memory(with_isnet, "limits") > _memory(plain, "limits")


def test_gpu_nodes_with_enough_memory_are_preferred_not_required(rendered: Rendered) -> None:
    affinity = rendered.get("Deployment", "triton")["spec"]["template"]["spec"].get("affinity")
    if rendered.name == "cpu":
        assert affinity is None
        return
    node = affinity["nodeAffinity"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in node
    ((term),) = node["preferredDuringSchedulingIgnoredDuringExecution"]
    ((expression),) = term["preference"]["matchExpressions"]
    assert expression["key"] == "nvidia.com/gpu.memory"  # GPU Feature Discovery's, in MiB
    assert expression["operator"] == "Gt" and int(expression["values"][0]) > 8192
