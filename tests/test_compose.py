"""docker-compose.yml: the GPU deployment's structure, checked without a Docker engine."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from convert.model_config import OnnxVariant, TrtVariant
from u2net.catalogue import MODEL_NAMES
from u2net.contract import CUTOUT
from u2net.repository import REPOSITORY_DIRNAME

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
REPOSITORY = ROOT / REPOSITORY_DIRNAME  # what `python -m convert` stages into, in a checkout
RELEASE = "24.10"
SERVED_NAMES = sorted(v.name for m in MODEL_NAMES for v in (OnnxVariant(m), TrtVariant(m)))
ADMIN_APIS = {"model-repository", "shared-memory", "trace", "logging"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def triton_args(compose: dict[str, Any]) -> list[str]:
    """tritonserver's arguments, from the shell line the triton service runs."""
    command = compose["services"]["triton"]["command"]
    script = command[-1] if isinstance(command, list) else command
    words = shlex.split(script.replace("$$", "$"))
    return words[words.index("tritonserver") + 1 :]


def _default(value: str) -> str:
    """Resolve compose's ``${VAR:-default}`` to its default, as with VAR unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_images_are_the_pinned_24_10_pair(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["convert"]["image"] == f"nvcr.io/nvidia/tensorrt:{RELEASE}-py3"
    build = services["triton"]["build"]
    assert build["args"]["TRITON_IMAGE"] == f"nvcr.io/nvidia/tritonserver:{RELEASE}-py3"
    assert services["triton"]["image"].endswith(f":{RELEASE}")


def test_triton_image_has_what_cutout_imports(compose: dict[str, Any]) -> None:
    """The cutout model imports the core; the image copies it onto PYTHONPATH, with Pillow."""
    build = compose["services"]["triton"]["build"]
    dockerfile = (ROOT / build["context"] / build["dockerfile"]).read_text()
    model_py = (ROOT / "model_repository" / CUTOUT.name / "1" / "model.py").read_text()
    imported = set(re.findall(r"^from (\w+)[.\w]* import", model_py, flags=re.MULTILINE))
    assert imported - {"__future__", "triton_python_backend_utils"} == {"u2net"}
    copied = re.search(r"^COPY u2net (\S+)/u2net$", dockerfile, flags=re.MULTILINE)
    assert copied is not None
    assert f"ENV PYTHONPATH={copied.group(1)}" in dockerfile
    assert "pillow" in dockerfile and "ARG TRITON_IMAGE" in dockerfile


def test_convert_stages_before_building_the_engines(compose: dict[str, Any]) -> None:
    convert = compose["services"]["convert"]
    script = convert["command"][-1]
    steps = [line.strip() for line in script.splitlines() if line.strip()]
    assert steps.index("python -m convert") < steps.index("python -m convert trt")
    assert convert["command"][1] == "-ec"  # stop at the first failing step
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


def test_healthcheck_asks_for_readiness(compose: dict[str, Any]) -> None:
    test = compose["services"]["triton"]["healthcheck"]["test"]
    assert "http://localhost:8000/v2/health/ready" in test


def test_ports_are_published_on_localhost_by_default(compose: dict[str, Any]) -> None:
    ports = [_default(p) for p in compose["services"]["triton"]["ports"]]
    assert sorted(ports) == [f"127.0.0.1:{p}:{p}" for p in (8000, 8001, 8002)]


def test_all_four_models_and_cutout_are_loaded_explicitly(triton_args: list[str]) -> None:
    assert "--model-repository=/models" in triton_args
    assert "--model-control-mode=explicit" in triton_args
    loaded = sorted(a.split("=", 1)[1] for a in triton_args if a.startswith("--load-model="))
    assert loaded == sorted([*SERVED_NAMES, CUTOUT.name])


@pytest.mark.parametrize("name", SERVED_NAMES)
def test_every_loaded_model_has_a_committed_config(name: str) -> None:
    assert (ROOT / "model_repository" / name / "config.pbtxt").is_file()


@pytest.mark.parametrize("flag", ["--http-restricted-api", "--grpc-restricted-protocol"])
def test_admin_apis_need_a_key(triton_args: list[str], flag: str) -> None:
    (value,) = [a.split("=", 1)[1] for a in triton_args if a.startswith(flag + "=")]
    apis, header = value.split(":", 1)
    assert set(apis.split(",")) == ADMIN_APIS
    assert "inference" not in apis  # clients infer without a key
    assert header.startswith("admin-key=")
    assert header.split("=", 1)[1]  # never an empty key


def test_admin_key_is_random_unless_given(compose: dict[str, Any]) -> None:
    script = compose["services"]["triton"]["command"][-1]
    assert "TRITON_ADMIN_KEY:-" in script
    assert "/dev/urandom" in script


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
        env={**os.environ, "TRITON_ADMIN_KEY": "", "TRITON_BIND": ""},
    )
    assert done.returncode == 0, done.stderr


# --- the web service (python -m web in front of triton) ---------------------------------

WEB_DOCKERFILE = ROOT / "deploy" / "web" / "Dockerfile"
ENTRYPOINT = ROOT / "deploy" / "web" / "entrypoint.sh"
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
    """Top-level modules that web/ and the core import, beyond the standard library."""
    import ast
    import sys

    found = set()
    for package in ("web", "u2net"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            nodes = ast.walk(tree) if package == "web" else tree.body  # the core: import time
            for node in nodes:
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"web", "u2net", "__future__"}


def test_the_web_image_installs_what_web_imports() -> None:
    dockerfile = WEB_DOCKERFILE.read_text()
    installed = set(re.findall(r"'([a-z][a-z0-9_-]*)(?:\[[a-z]+\])?[<>=]", dockerfile))
    provided_by = {"starlette": "fastapi"}  # fastapi's own dependency
    wanted = {PIP_NAMES.get(m, m) for m in _third_party_imports()}
    missing = {m for m in wanted if m not in installed and provided_by.get(m) not in installed}
    assert missing == set(), f"add to {WEB_DOCKERFILE.name}: {sorted(missing)}"


def _entrypoint(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    keys = tmp_path / "keys.txt"
    base = {"PATH": os.environ["PATH"], "PYTHON": "echo", "WEB_KEYS_FILE": str(keys)}
    return subprocess.run(
        ["sh", str(ENTRYPOINT)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**base, **env},
    )


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
