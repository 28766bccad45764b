"""deploy/k8s/ rendered offline with ``kubectl kustomize`` (no cluster, nothing applied)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("gpu", "cpu")
PODMONITOR = K8S / "components" / "podmonitor"
ADAPTER = K8S / "prometheus-adapter"
# IS-Net beside the default models, one component per overlay (components/isnet-<overlay>)
ISNET_COMPONENTS = tuple(K8S / "components" / f"isnet-{overlay}" for overlay in OVERLAYS)

Doc = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    name: str
    docs: list[Doc]

    def get(self, kind: str, name: str) -> Doc:
        (found,) = [d for d in self.docs if d["kind"] == kind and d["metadata"]["name"] == name]
        return found

    def of_kind(self, kind: str) -> list[Doc]:
        return [d for d in self.docs if d["kind"] == kind]


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (https://kubernetes.io/docs/tasks/tools/)")
    return kubectl


def kustomize(directory: Path) -> list[Doc]:
    done = subprocess.run(
        [_kubectl(), "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def with_component(scratch: Path, overlay: Path, component: Path) -> Path:
    """A kustomization in ``scratch`` that adds ``component`` to ``overlay``, the way the
    docs/kubernetes.md tells users to (kustomize wants relative paths)."""
    scratch.mkdir(parents=True, exist_ok=True)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(overlay, scratch)],
        "components": [os.path.relpath(component, scratch)],
    }
    (scratch / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return scratch


@pytest.fixture(scope="session")
def render() -> Callable[[str], Rendered]:
    cache: dict[str, Rendered] = {}

    def rendered(overlay: str) -> Rendered:
        if overlay not in cache:
            cache[overlay] = Rendered(overlay, kustomize(K8S / "overlays" / overlay))
        return cache[overlay]

    return rendered


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest, render: Callable[[str], Rendered]) -> Rendered:
    return render(request.param)


def container(pod_owner: Doc, name: str, init: bool = False) -> Doc:
    spec = pod_owner["spec"]["template"]["spec"]
    (found,) = [c for c in spec["initContainers" if init else "containers"] if c["name"] == name]
    return found


def env_of(container_spec: Doc) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container_spec.get("env", [])}
