"""deploy/k8s/ against the code and docker-compose.yml: images, ports, probes, labels and
selectors, the models Triton loads, what the init container builds, the autoscaling metric
(against a real Triton's /metrics), keys and security settings."""

from __future__ import annotations

import re
import urllib.request
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml

from client.targets import addresses, is_balanced
from client.triton import TritonModel
from server.command import ADMIN_PROTOCOLS, OFF_HEADER, UNSENDABLE
from server.embedded import RunningServer
from tests.conftest import SESSION_MODEL
from tests.deploy.conftest import ADAPTER, ROOT, Doc, Rendered, container, env_of, kustomize
from tests.deploy_run import (
    CONVERT_SCRIPT,
    SERVE_SCRIPT,
    restrictions,
    run_script,
    run_web_entrypoint,
)
from u2net.catalogue import MODEL_NAMES
from u2net.contract import CUTOUT
from u2net.deployment import NGC_RELEASE
from u2net.repository.layout import CPU_CONFIG_NAME
from u2net.samples import sample_inputs
from web.config import DEFAULT_PORT, DRAIN_S
from web.ops import router

STAGE_SCRIPT = CONVERT_SCRIPT.with_name("stage.sh")
TRITON_PORTS = {"http": 8000, "grpc": 8001, "metrics": 8002}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _compose_default(value: str) -> str:
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def _ports(container_spec: Doc) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container_spec["ports"]}


def _pod_labels(deployment: Doc) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def _selects(selector: dict[str, str], deployment: Doc) -> bool:
    return selector.items() <= _pod_labels(deployment).items()


def _selected(overlay: Rendered, selector: dict[str, str]) -> list[str]:
    return [d["metadata"]["name"] for d in overlay.of_kind("Deployment") if _selects(selector, d)]


# images ------------------------------------------------------------------------------------


def test_images_follow_the_pinned_release_and_compose(overlay: Rendered, compose: dict) -> None:
    triton, web = overlay.get("Deployment", "triton"), overlay.get("Deployment", "web")
    services = compose["services"]
    assert container(triton, "triton")["image"] == f"u2net-triton/tritonserver:{NGC_RELEASE}"
    assert container(triton, "triton")["image"] == _compose_default(services["triton"]["image"])
    assert container(triton, "convert", init=True)["image"] == f"u2net-triton/convert:{NGC_RELEASE}"
    assert container(web, "web")["image"] == f"u2net-triton/web:{version('u2net-triton')}"
    assert container(web, "web")["image"] == services["web"]["image"].split(" ")[0]


def test_the_convert_image_is_built_on_the_pinned_tensorrt_release() -> None:
    dockerfile = (ROOT / "deploy" / "convert" / "Dockerfile").read_text()
    assert f"ARG NGC_RELEASE={NGC_RELEASE}\n" in dockerfile
    assert "\nFROM nvcr.io/nvidia/tensorrt:${NGC_RELEASE}-py3\n" in dockerfile


# ports, services, probes -------------------------------------------------------------------


def test_triton_ports_match_compose(overlay: Rendered, compose: dict) -> None:
    triton = container(overlay.get("Deployment", "triton"), "triton")
    assert _ports(triton) == TRITON_PORTS
    published = {int(p.rsplit(":", 1)[1]) for p in compose["services"]["triton"]["ports"]}
    assert published == set(TRITON_PORTS.values())


def test_services_reach_named_ports_of_the_pods_they_select(overlay: Rendered) -> None:
    for service in overlay.of_kind("Service"):
        (name,) = _selected(overlay, service["spec"]["selector"])
        ports = _ports(container(overlay.get("Deployment", name), name))
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (service["metadata"]["name"], port)


def test_the_gateway_balances_over_the_headless_grpc_service(overlay: Rendered) -> None:
    headless = overlay.get("Service", "triton-grpc")
    assert headless["spec"]["clusterIP"] == "None"
    (port,) = headless["spec"]["ports"]
    url = env_of(container(overlay.get("Deployment", "web"), "web"))["WEB_TRITON_URL"]
    assert url == f"dns:///{headless['metadata']['name']}:{port['port']}"
    assert port["port"] == TRITON_PORTS["grpc"]
    assert is_balanced(url) and addresses(url) is None  # round-robin over what DNS answers


def test_triton_probes_use_the_kserve_health_endpoints(overlay: Rendered) -> None:
    triton = container(overlay.get("Deployment", "triton"), "triton")
    probes = {
        kind: triton[f"{kind}Probe"]["httpGet"] for kind in ("startup", "liveness", "readiness")
    }
    assert {k: p["path"] for k, p in probes.items()} == {
        "startup": "/v2/health/ready",
        "liveness": "/v2/health/live",
        "readiness": "/v2/health/ready",
    }
    assert {p["port"] for p in probes.values()} == {"http"}
    startup = triton["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600  # engines load slowly


def test_gateway_probes_are_routes_of_the_gateway(overlay: Rendered, compose: dict) -> None:
    web = container(overlay.get("Deployment", "web"), "web")
    routes = {route.path for route in router.routes}
    assert (
        {web["livenessProbe"]["httpGet"]["path"], web["readinessProbe"]["httpGet"]["path"]}
        == {
            "/healthz",
            "/readyz",
        }
        <= routes
    )
    assert _ports(web) == {"http": DEFAULT_PORT}
    assert compose["services"]["web"]["ports"] == [f"${{WEB_BIND:-127.0.0.1}}:{DEFAULT_PORT}:7000"]


def test_the_gateway_leaves_the_service_before_it_drains_within_the_grace(
    overlay: Rendered,
) -> None:
    """preStop's sleep takes the pod out of the endpoints before SIGTERM closes its socket; then
    the drain must fit in what is left of the grace period, or the kubelet kills it mid-drain."""
    deployment = overlay.get("Deployment", "web")
    command = container(deployment, "web")["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep" and len(command) == 2
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert int(command[1]) + DRAIN_S < grace


# labels and selectors ----------------------------------------------------------------------


def test_each_deployment_selects_its_own_pods(overlay: Rendered) -> None:
    for deployment in overlay.of_kind("Deployment"):
        assert _selects(deployment["spec"]["selector"]["matchLabels"], deployment)
        others = [d for d in overlay.of_kind("Deployment") if d is not deployment]
        assert not any(_selects(deployment["spec"]["selector"]["matchLabels"], d) for d in others)


@pytest.mark.parametrize("name", ["triton", "web"])
def test_each_deployment_has_a_disruption_budget_and_an_autoscaler(
    overlay: Rendered, name: str
) -> None:
    budgets = [
        _selected(overlay, b["spec"]["selector"]["matchLabels"])
        for b in overlay.of_kind("PodDisruptionBudget")
    ]
    assert budgets.count([name]) == 1
    targets = [h["spec"]["scaleTargetRef"] for h in overlay.of_kind("HorizontalPodAutoscaler")]
    assert {"apiVersion": "apps/v1", "kind": "Deployment", "name": name} in targets
    assert "replicas" not in overlay.get("Deployment", name)["spec"]  # the autoscaler's


def test_only_the_gateway_reaches_triton_grpc(overlay: Rendered) -> None:
    (policy,) = overlay.of_kind("NetworkPolicy")
    assert _selected(overlay, policy["spec"]["podSelector"]["matchLabels"]) == ["triton"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    rules = {r["ports"][0]["port"]: r["from"] for r in policy["spec"]["ingress"]}
    assert set(rules) == {TRITON_PORTS["grpc"], TRITON_PORTS["metrics"]}  # HTTP: nobody
    (gateway,) = rules[TRITON_PORTS["grpc"]]
    assert set(gateway) == {"podSelector"}  # pods of this namespace only
    assert _selected(overlay, gateway["podSelector"]["matchLabels"]) == ["web"]


# what Triton loads, what the init container builds -------------------------------------------


def _serve_args(overlay: Rendered, tmp_path: Path, plans: bool) -> list[str]:
    """serve.sh's tritonserver arguments with the pod's environment and arguments."""
    triton = container(overlay.get("Deployment", "triton"), "triton")
    assert triton["command"] == ["bash", "/opt/u2net-core/serve.sh"]
    assert (
        "COPY deploy/triton/serve.sh /opt/u2net-core/serve.sh\n"
        in (ROOT / "deploy" / "triton" / "Dockerfile").read_text()
    )
    repository = tmp_path / "models"
    for model in MODEL_NAMES if plans else ():
        plan = repository / f"{model}_trt" / "1" / "model.plan"
        plan.parent.mkdir(parents=True)
        plan.write_bytes(b"plan")
    env = env_of(triton) | {"MODEL_REPOSITORY": str(repository), "TRITON_ADMIN_KEY": ""}
    run = run_script(
        SERVE_SCRIPT, tmp_path, env, ("tritonserver",), tmp_path, args=tuple(triton["args"])
    )
    assert run.returncode == 0, run.stderr
    return run.args


def _builds_engines(overlay: Rendered) -> bool:
    convert = container(overlay.get("Deployment", "triton"), "convert", init=True)
    return env_of(convert)["U2NET_BUILD_ENGINES"] == "1"


def test_triton_loads_every_model_and_cutout(overlay: Rendered, tmp_path: Path) -> None:
    engines = _builds_engines(overlay)
    args = _serve_args(overlay, tmp_path, plans=engines)
    loaded = sorted(a.split("=", 1)[1] for a in args if a.startswith("--load-model="))
    trt = [f"{m}_trt" for m in MODEL_NAMES] if engines else []
    assert loaded == sorted([*(f"{m}_onnx" for m in MODEL_NAMES), *trt, CUTOUT.name])
    assert "--model-control-mode=explicit" in args


def test_the_cpu_overlay_serves_the_cpu_configuration(overlay: Rendered, tmp_path: Path) -> None:
    args = _serve_args(overlay, tmp_path, plans=False)
    chosen = [a for a in args if a.startswith("--model-config-name=")]
    expected = [] if overlay.name == "gpu" else [f"--model-config-name={CPU_CONFIG_NAME}"]
    assert chosen == expected
    assert _builds_engines(overlay) == (overlay.name == "gpu")


@pytest.mark.parametrize("flag", ["--http-restricted-api", "--grpc-restricted-protocol"])
def test_no_secret_on_tritons_command_line(overlay: Rendered, tmp_path: Path, flag: str) -> None:
    triton = container(overlay.get("Deployment", "triton"), "triton")
    assert "TRITON_ADMIN_KEY" not in env_of(triton)
    granted = restrictions(_serve_args(overlay, tmp_path, plans=False), flag)
    assert granted == dict.fromkeys(ADMIN_PROTOCOLS, f"{OFF_HEADER}={UNSENDABLE}")


def test_init_container_fills_the_volume_triton_serves(overlay: Rendered, tmp_path: Path) -> None:
    triton_pod = overlay.get("Deployment", "triton")
    convert = container(triton_pod, "convert", init=True)
    triton = container(triton_pod, "triton")
    assert convert["command"] == ["bash", "/opt/u2net-triton/stage.sh"]
    mounts = {m["name"]: m for m in triton["volumeMounts"]}
    assert mounts["models"]["readOnly"] is True
    repository = env_of(convert)["U2NET_MODEL_REPOSITORY"]
    assert repository == mounts["models"]["mountPath"] == env_of(triton)["MODEL_REPOSITORY"]
    assert {m["name"]: m["mountPath"] for m in convert["volumeMounts"]}["models"] == repository
    assert env_of(convert)["U2NET_TRT_MODELS"].split(",") == list(MODEL_NAMES)
    assert env_of(triton)["U2NET_MODELS"].split() == list(MODEL_NAMES)


def test_init_container_script_builds_engines_only_on_gpu(
    overlay: Rendered, tmp_path: Path
) -> None:
    convert = container(overlay.get("Deployment", "triton"), "convert", init=True)
    template = tmp_path / "template" / CUTOUT.name / "1"
    template.mkdir(parents=True)
    (template / "model.py").write_text("# cutout\n")
    env = env_of(convert) | {
        "U2NET_MODEL_REPOSITORY": str(tmp_path / "models"),
        "U2NET_REPOSITORY_TEMPLATE": str(tmp_path / "template"),
    }
    run = run_script(STAGE_SCRIPT, tmp_path, env, ("python3",), tmp_path / "stubs")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "models" / CUTOUT.name / "1" / "model.py").is_file()  # template copied
    steps = [c.split()[1:] for c in run.calls]
    assert steps[0] == [
        "-m",
        "convert",
        "--model-repository",
        env["U2NET_MODEL_REPOSITORY"],
        "--models",
        ",".join(MODEL_NAMES),
    ]
    engines = [s for s in steps if s[2:3] == ["trt"]]
    assert len(engines) == (len(MODEL_NAMES) if overlay.name == "gpu" else 0)
    assert all("--fallback-fp32" in s for s in engines)


def test_the_convert_image_holds_the_script_and_template_the_pod_uses() -> None:
    dockerfile = (ROOT / "deploy" / "convert" / "Dockerfile").read_text()
    assert "COPY deploy/convert/stage.sh /opt/u2net-triton/stage.sh\n" in dockerfile
    assert "COPY model_repository /opt/u2net-triton/model_repository\n" in dockerfile
    assert "U2NET_REPOSITORY_TEMPLATE=/opt/u2net-triton/model_repository" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert "model_repository/*/[0-9]*" in ignored  # staged models stay out of the image
    assert f"!model_repository/{CUTOUT.name}/1/" in ignored


def test_gpus_only_in_the_gpu_overlay(overlay: Rendered) -> None:
    pod = overlay.get("Deployment", "triton")
    for name, init in (("convert", True), ("triton", False)):
        limits = container(pod, name, init=init).get("resources", {}).get("limits", {})
        assert limits.get("nvidia.com/gpu", 0) == (1 if overlay.name == "gpu" else 0)
        assert "memory" in limits  # bounded memory everywhere
    assert "nvidia.com/gpu" not in str(overlay.get("Deployment", "web"))


# security ----------------------------------------------------------------------------------


def test_every_container_runs_unprivileged_on_a_read_only_root(overlay: Rendered) -> None:
    for deployment in overlay.of_kind("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for spec in [*pod.get("initContainers", []), *pod["containers"]]:
            context = spec["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]


def test_triton_gets_a_memory_backed_dev_shm(overlay: Rendered) -> None:
    pod = overlay.get("Deployment", "triton")["spec"]["template"]["spec"]
    (shm,) = [
        m
        for m in container(overlay.get("Deployment", "triton"), "triton")["volumeMounts"]
        if m["mountPath"] == "/dev/shm"
    ]
    volume = {v["name"]: v for v in pod["volumes"]}[shm["name"]]
    assert volume["emptyDir"]["medium"] == "Memory" and volume["emptyDir"]["sizeLimit"]


def test_the_gateway_demands_the_keys_from_its_secret(overlay: Rendered, tmp_path: Path) -> None:
    web_pod = overlay.get("Deployment", "web")
    web = container(web_pod, "web")
    keys_file = Path(env_of(web)["WEB_KEYS_FILE"])
    (mount,) = [m for m in web["volumeMounts"] if m["mountPath"] == str(keys_file.parent)]
    volume = {v["name"]: v for v in web_pod["spec"]["template"]["spec"]["volumes"]}[mount["name"]]
    assert [i["path"] for i in volume["secret"]["items"]] == [keys_file.name]
    refused = run_web_entrypoint(tmp_path / "missing.txt", env_of(web))  # listening beyond loopback
    assert refused.returncode == 1 and "exposes the gateway" in refused.stderr
    (tmp_path / "keys.txt").write_text("k1\n")
    started = run_web_entrypoint(tmp_path / "keys.txt", env_of(web)).stdout.split()
    assert started[started.index("--triton-url") + 1] == env_of(web)["WEB_TRITON_URL"]
    assert "--api-keys-file" in started and "--no-auth" not in started


# autoscaling -------------------------------------------------------------------------------


def _adapter_rule() -> dict[str, Any]:
    (config_map,) = kustomize(ADAPTER)
    (rule,) = yaml.safe_load(config_map["data"]["config.yaml"])["rules"]
    return rule


def test_triton_scales_on_the_adapters_metric(overlay: Rendered) -> None:
    hpa = overlay.get("HorizontalPodAutoscaler", "triton")
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    assert metric["pods"]["metric"]["name"] == _adapter_rule()["name"]["as"]
    assert metric["pods"]["target"]["type"] == "AverageValue"


def test_the_adapter_rule_is_per_pod_and_uses_tritons_two_counters() -> None:
    rule = _adapter_rule()
    assert rule["resources"]["overrides"] == {
        "namespace": {"resource": "namespace"},
        "pod": {"resource": "pod"},
    }
    used = set(re.findall(r"\b(nv_[a-z_]+)\{", rule["metricsQuery"]))
    assert used == {"nv_inference_queue_duration_us", "nv_inference_request_success"}
    assert rule["seriesQuery"].startswith("nv_inference_queue_duration_us{")
    assert rule["metricsQuery"].count("<<.LabelMatchers>>") == 2


def test_a_real_triton_exports_the_counters_the_rule_reads(triton_server: RunningServer) -> None:
    """The metric names agree with Triton itself: after one inference, both counters are on
    its metrics port (the one the PodMonitor and the scrape annotations name)."""
    _names, images = sample_inputs()
    model = TritonModel(triton_server.grpc_url, SESSION_MODEL)
    try:
        model.infer(images[:1])
    finally:
        model.close()
    url = f"http://{triton_server.host}:{triton_server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as answer:
        exported = {line.split("{")[0] for line in answer.read().decode().splitlines()}
    wanted = set(re.findall(r"\b(nv_[a-z_]+)\{", _adapter_rule()["metricsQuery"]))
    assert wanted <= exported
