"""docker-compose.yml: the GPU deployment's structure, checked without a Docker engine."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from convert.model_config import OnnxVariant, TrtVariant
from server.command import ADMIN_PROTOCOLS, OFF_HEADER, UNSENDABLE
from server.distribution import ALLOCATOR_ENV
from tests.deploy_run import SERVE_SCRIPT, restrictions, run_script, run_web_entrypoint
from u2net.catalogue import MODEL_NAMES
from u2net.contract import CUTOUT
from u2net.deployment import NGC_RELEASE
from u2net.repository.layout import REPOSITORY_DIRNAME

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
REPOSITORY = ROOT / REPOSITORY_DIRNAME  # what `python -m convert` stages into, in a checkout
RELEASE = NGC_RELEASE
RELEASE_VARIABLE = f"${{NGC_RELEASE:-{RELEASE}}}"
SERVED_NAMES = sorted(v.name for m in MODEL_NAMES for v in (OnnxVariant(m), TrtVariant(m)))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def triton_args(compose: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """tritonserver's arguments from the script the triton service runs (tritonserver is
    stubbed), with a plan staged for every model; ``--model-repository`` as in the container."""
    command = compose["services"]["triton"]["command"]
    assert command[:1] == ["bash"] and Path(command[1]).name == SERVE_SCRIPT.name
    scratch = tmp_path_factory.mktemp("serve")
    staged = scratch / "models"
    for model in MODEL_NAMES:
        plan = staged / f"{model}_trt" / "1" / "model.plan"
        plan.parent.mkdir(parents=True)
        plan.write_bytes(b"plan")

    def run(repository: str) -> list[str]:
        env = {"TRITON_ADMIN_KEY": "", "U2NET_MODELS": "", "MODEL_REPOSITORY": repository}
        return run_script(SERVE_SCRIPT, scratch, env, ("tritonserver",), scratch).args

    (inside,) = [a for a in run("") if a.startswith("--model-repository=")]
    return [inside if a == f"--model-repository={staged}" else a for a in run(str(staged)) if a]


def _default(value: str) -> str:
    """Resolve compose's ``${VAR:-default}`` to its default, as with VAR unset."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (*_strings(key), *_strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def test_every_nvidia_image_follows_ngc_release(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["convert"]["image"] == f"nvcr.io/nvidia/tensorrt:{RELEASE_VARIABLE}-py3"
    triton = services["triton"]
    assert triton["build"]["args"] == {"NGC_RELEASE": RELEASE_VARIABLE}
    assert triton["image"].endswith(f":{RELEASE_VARIABLE}")
    dockerfile = (ROOT / triton["build"]["context"] / triton["build"]["dockerfile"]).read_text()
    assert f"ARG NGC_RELEASE={RELEASE}\n" in dockerfile
    assert "\nFROM nvcr.io/nvidia/tritonserver:${NGC_RELEASE}-py3\n" in dockerfile


def test_no_release_is_hard_coded(compose: dict[str, Any]) -> None:
    """A release number appears only as NGC_RELEASE's default, in compose and Dockerfile."""
    release = re.compile(r"\b\d{2}\.\d{2}\b")
    found = [s for s in _strings(compose) if release.search(s.replace(RELEASE_VARIABLE, ""))]
    assert found == []
    build = compose["services"]["triton"]["build"]
    dockerfile = (ROOT / build["context"] / build["dockerfile"]).read_text().splitlines()
    code = [line for line in dockerfile if line and not line.startswith("#")]
    assert [line for line in code if release.search(line)] == [f"ARG NGC_RELEASE={RELEASE}"]


def test_triton_image_has_what_cutout_imports(compose: dict[str, Any]) -> None:
    """The cutout model imports the core; the image copies it onto PYTHONPATH, with Pillow."""
    build = compose["services"]["triton"]["build"]
    dockerfile = (ROOT / build["context"] / build["dockerfile"]).read_text()
    model_py = (ROOT / "model_repository" / CUTOUT.name / "1" / "model.py").read_text()
    imported = set(re.findall(r"^from (\w+)[.\w]* import", model_py, flags=re.MULTILINE))
    third_party = imported - set(sys.stdlib_module_names) - {"triton_python_backend_utils"}
    assert third_party == {"u2net"}
    copied = re.search(r"^COPY u2net (\S+)/u2net$", dockerfile, flags=re.MULTILINE)
    assert copied is not None
    assert f"ENV PYTHONPATH={copied.group(1)}" in dockerfile
    assert "pillow" in dockerfile
    served = compose["services"]["triton"]["command"][1]  # the script, baked into the image
    assert f"COPY {SERVE_SCRIPT.relative_to(ROOT)} {served}" in dockerfile


def test_what_the_dockerfile_copies_is_in_the_build_context(compose: dict[str, Any]) -> None:
    """.dockerignore leaves out everything but what it lists again with ``!``."""
    build = compose["services"]["triton"]["build"]
    dockerfile = (ROOT / build["context"] / build["dockerfile"]).read_text()
    kept = (ROOT / build["context"] / ".dockerignore").read_text().splitlines()
    sources = re.findall(r"^COPY (\S+) ", dockerfile, flags=re.MULTILINE)
    assert sources
    assert [s for s in sources if f"!{s}" not in kept and f"!{s}/" not in kept] == []


def test_convert_runs_its_script_from_the_mounted_checkout(compose: dict[str, Any]) -> None:
    """What the script does is tested by running it (tests/test_deploy_scripts.py)."""
    convert = compose["services"]["convert"]
    assert convert["command"] == ["bash", "deploy/convert/run.sh"]
    assert (ROOT / convert["command"][1]).is_file()
    mounts = convert["volumes"]
    assert any(m.split(":")[1] == convert["working_dir"] for m in mounts)
    cache = next(m for m in mounts if m.split(":")[1].endswith(".u2net"))
    assert cache.split(":")[0] in compose["volumes"]
    assert convert["environment"]["U2NET_HOME"] == cache.split(":")[1].split()[0]


def test_triton_waits_for_a_successful_convert(compose: dict[str, Any]) -> None:
    depends = compose["services"]["triton"]["depends_on"]
    assert depends == {"convert": {"condition": "service_completed_successfully"}}


@pytest.mark.parametrize("service", ["convert", "triton"])
def test_gpu_is_reserved(compose: dict[str, Any], service: str) -> None:
    devices = compose["services"][service]["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)


def test_triton_serves_the_checkout_repository_read_only(
    compose: dict[str, Any], triton_args: list[str]
) -> None:
    (inside,) = [a.split("=", 1)[1] for a in triton_args if a.startswith("--model-repository=")]
    mounts = [m.split(":") for m in compose["services"]["triton"]["volumes"]]
    assert [(ROOT / m[0]).resolve() for m in mounts if m[1] == inside] == [REPOSITORY]
    assert all(m[2:] == ["ro"] for m in mounts if m[1] == inside)


def test_healthcheck_asks_for_what_web_needs(compose: dict[str, Any]) -> None:
    """Triton is healthy once cutout is ready (a failed TensorRT plan must not keep web down)."""
    test = compose["services"]["triton"]["healthcheck"]["test"]
    assert f"http://localhost:8000/v2/models/{CUTOUT.name}/ready" in test
    assert compose["services"]["web"]["depends_on"]["triton"] == {"condition": "service_healthy"}


def test_ports_are_published_on_localhost_by_default(compose: dict[str, Any]) -> None:
    ports = [_default(p) for p in compose["services"]["triton"]["ports"]]
    assert sorted(ports) == [f"127.0.0.1:{p}:{p}" for p in (8000, 8001, 8002)]


def test_all_four_models_and_cutout_are_loaded_explicitly(triton_args: list[str]) -> None:
    assert "--model-repository=/models" in triton_args
    assert "--model-control-mode=explicit" in triton_args
    loaded = sorted(a.split("=", 1)[1] for a in triton_args if a.startswith("--load-model="))
    assert loaded == sorted([*SERVED_NAMES, CUTOUT.name])


@pytest.mark.parametrize("flag", ["--http-restricted-api", "--grpc-restricted-protocol"])
def test_admin_apis_are_off_and_no_secret_is_on_the_command_line(
    triton_args: list[str], flag: str
) -> None:
    granted = restrictions(triton_args, flag)
    assert set(granted) == set(ADMIN_PROTOCOLS)
    assert "inference" not in granted  # clients infer without a key
    assert set(granted.values()) == {f"{OFF_HEADER}={UNSENDABLE}"}


def test_admin_key_reaches_the_script(compose: dict[str, Any]) -> None:
    """The variable compose hands the container is the one serve.sh reads (what it then does
    with the key is tested there), and unset stays unset (no default key)."""
    environment = compose["services"]["triton"]["environment"]
    script = (ROOT / "deploy" / "triton" / "serve.sh").read_text()
    handed = {k: v for k, v in environment.items() if f"${{{k}" in script}
    assert handed == {
        "TRITON_ADMIN_KEY": "${TRITON_ADMIN_KEY:-}",
        "U2NET_MODELS": f"${{U2NET_MODELS:-{','.join(MODEL_NAMES)}}}",
        "U2NET_CUSTOM_MODELS": "${U2NET_CUSTOM_MODELS:-}",
    }


def test_one_variable_picks_the_models_convert_builds_and_triton_serves(
    compose: dict[str, Any],
) -> None:
    """U2NET_MODELS (default: the deployed set) reaches run.sh as U2NET_TRT_MODELS and serve.sh
    as U2NET_MODELS; U2NET_CUSTOM_MODELS reaches both as it is."""
    convert = compose["services"]["convert"]["environment"]
    triton = compose["services"]["triton"]["environment"]
    assert convert["U2NET_TRT_MODELS"] == triton["U2NET_MODELS"]
    assert _default(triton["U2NET_MODELS"]).split(",") == list(MODEL_NAMES)
    assert convert["U2NET_CUSTOM_MODELS"] == triton["U2NET_CUSTOM_MODELS"]
    assert _default(triton["U2NET_CUSTOM_MODELS"]) == ""
    stage = (ROOT / "deploy" / "convert" / "stage.sh").read_text()
    assert "${U2NET_TRT_MODELS" in stage and "${U2NET_CUSTOM_MODELS" in stage


def test_triton_gets_the_embedded_servers_allocator_settings(tmp_path: Path) -> None:
    """serve.sh starts tritonserver with the allocator settings ``python -m server`` uses
    (measured there), unless the container's environment sets its own."""
    stand_in = tmp_path / "tritonserver"
    stand_in.write_text("#!/bin/sh\nenv\n")
    stand_in.chmod(0o755)

    def environment(own: dict[str, str]) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k not in ALLOCATOR_ENV}
        paths = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "MODEL_REPOSITORY": str(tmp_path)}
        done = subprocess.run(
            ["bash", str(SERVE_SCRIPT)],
            env={**base, **paths, **own},
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)

    handed = environment({})
    assert {name: handed.get(name) for name in ALLOCATOR_ENV} == ALLOCATOR_ENV
    assert environment({"MALLOC_ARENA_MAX": "8"})["MALLOC_ARENA_MAX"] == "8"


def _compose_cli() -> list[str] | None:
    """``docker compose`` (v2 plugin), else a standalone ``docker-compose``; None if neither."""
    docker = shutil.which("docker")
    if docker is not None:
        done = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
        )
        if done.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone is not None else None


def test_docker_compose_accepts_the_file() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    done = subprocess.run(
        [*cli, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TRITON_ADMIN_KEY": "", "TRITON_BIND": "", "NGC_RELEASE": ""},
    )
    assert done.returncode == 0, done.stderr


# --- the web service (python -m web in front of triton) ---------------------------------

WEB_DOCKERFILE = ROOT / "deploy" / "web" / "Dockerfile"
PIP_NAMES = {"PIL": "pillow", "prometheus_client": "prometheus-client"}


def test_web_is_published_on_localhost_and_waits_for_a_healthy_triton(
    compose: dict[str, Any],
) -> None:
    web = compose["services"]["web"]
    assert [_default(p) for p in web["ports"]] == ["127.0.0.1:7000:7000"]
    assert _default(web["environment"]["WEB_BIND"]) == "127.0.0.1"
    assert web["depends_on"] == {"triton": {"condition": "service_healthy"}}
    assert "/readyz" in " ".join(web["healthcheck"]["test"])
    assert web["environment"]["WEB_TRITON_URL"] == "triton:8001"


def _third_party_imports() -> set[str]:
    """Top-level modules that web/, the client package and the core import, beyond the
    standard library (the client and the core: at import time)."""
    import ast
    import sys

    found = set()
    for package in ("web", "client", "u2net"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            nodes = ast.walk(tree) if package == "web" else tree.body  # the core: import time
            for node in nodes:
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    # server: web imports its launcher only to start the embedded Triton, which the image never
    # does (the next test)
    project = {"web", "client", "u2net", "server"}
    return found - set(sys.stdlib_module_names) - project - {"__future__"}


def test_the_web_image_needs_no_server_package() -> None:
    """The image copies no ``server/``: web imports it only inside the function that starts the
    embedded Triton, and the image always names its Triton (``--triton-url``)."""
    import ast

    def imported(node: ast.stmt) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        return [node.module or ""] if isinstance(node, ast.ImportFrom) else []

    at_import = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "web").rglob("*.py"))
        for node in ast.parse(path.read_text()).body
        if any(name.split(".")[0] == "server" for name in imported(node))
    ]
    assert at_import == []
    assert "COPY server " not in WEB_DOCKERFILE.read_text()


def test_the_web_image_installs_what_web_imports() -> None:
    dockerfile = WEB_DOCKERFILE.read_text()
    installed = set(re.findall(r"'([a-z][a-z0-9_-]*)(?:\[[a-z]+\])?[<>=]", dockerfile))
    provided_by = {"starlette": "fastapi"}  # fastapi's own dependency
    wanted = {PIP_NAMES.get(m, m) for m in _third_party_imports()}
    missing = {m for m in wanted if m not in installed and provided_by.get(m) not in installed}
    assert missing == set(), f"add to {WEB_DOCKERFILE.name}: {sorted(missing)}"


def _entrypoint(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_web_entrypoint(tmp_path / "keys.txt", env)


def test_web_on_loopback_needs_no_key(tmp_path: Path) -> None:
    done = _entrypoint(tmp_path)
    args = done.stdout.split()
    assert done.returncode == 0
    assert args[:2] == ["-m", "web"] and "--no-auth" in args
    assert args[args.index("--triton-url") + 1] == "triton:8001"


def test_web_exposed_without_keys_refuses_to_start(tmp_path: Path) -> None:
    done = _entrypoint(tmp_path, WEB_BIND="0.0.0.0")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().startswith("error: WEB_BIND=0.0.0.0 exposes the gateway")


def test_web_exposed_with_keys_uses_them(tmp_path: Path) -> None:
    (tmp_path / "keys.txt").write_text("secret\n")
    done = _entrypoint(tmp_path, WEB_BIND="0.0.0.0")
    args = done.stdout.split()
    assert done.returncode == 0 and "--no-auth" not in args
    assert args[args.index("--api-keys-file") + 1] == str(tmp_path / "keys.txt")
