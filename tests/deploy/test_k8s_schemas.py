"""Every rendered manifest validates strictly: Kubernetes kinds against the official schemas
of 1.31 and 1.34 (kubernetes-validate, offline), custom resources against the schemas
shipped in deploy/k8s/schemas/. A kind with no schema fails instead of passing with a
warning."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy.conftest import (
    ADAPTER,
    ISNET_COMPONENTS,
    K8S,
    OVERLAYS,
    PODMONITOR,
    Doc,
    kustomize,
    with_component,
)

VERSIONS = ("1.31.0", "1.34.0")
SCHEMAS = K8S / "schemas"
CUSTOM = {("monitoring.coreos.com/v1", "PodMonitor"): SCHEMAS / "podmonitor_v1.json"}


def validate(doc: Doc, version: str) -> None:
    """Raise if ``doc`` is invalid, or if there is no schema for its kind."""
    custom = CUSTOM.get((doc["apiVersion"], doc["kind"]))
    if custom is None:
        kubernetes_validate.validate(doc, version, strict=True)
    else:
        jsonschema.validate(doc, json.loads(custom.read_text()))


def _rendered(target: str, tmp_path: Path) -> list[Doc]:
    if target in OVERLAYS:
        return kustomize(K8S / "overlays" / target)
    if target == "prometheus-adapter":
        return kustomize(ADAPTER)
    overlay, component = target.split("+")
    components = {"podmonitor": PODMONITOR, **{c.name: c for c in ISNET_COMPONENTS}}
    combined = with_component(tmp_path / "k", K8S / "overlays" / overlay, components[component])
    return kustomize(combined)


WITH_COMPONENTS = [
    "gpu+podmonitor",
    *(f"{c.name.split('-')[1]}+{c.name}" for c in ISNET_COMPONENTS),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("target", [*OVERLAYS, "prometheus-adapter", *WITH_COMPONENTS])
def test_every_manifest_validates_strictly(target: str, version: str, tmp_path: Path) -> None:
    docs = _rendered(target, tmp_path)
    assert docs
    for doc in docs:
        validate(doc, version)


def test_the_podmonitor_is_rendered_into_the_deployments_namespace(tmp_path: Path) -> None:
    docs = _rendered("gpu+podmonitor", tmp_path)
    (monitor,) = [d for d in docs if d["kind"] == "PodMonitor"]
    (triton,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "triton"]
    assert monitor["metadata"]["namespace"] == triton["metadata"]["namespace"]


def _misspelt(doc: Doc) -> Doc:
    """``doc`` with a field no schema knows, one level under ``spec``."""
    broken = copy.deepcopy(doc)
    broken["spec"]["replicaz"] = 2
    return broken


@pytest.mark.parametrize("kind", ["Deployment", "HorizontalPodAutoscaler", "PodMonitor"])
def test_strict_validation_catches_a_misspelt_field(kind: str, tmp_path: Path) -> None:
    """The check above can fail: an unknown field is an error, not ignored."""
    (doc,) = [d for d in _rendered("gpu+podmonitor", tmp_path) if d["kind"] == kind][:1]
    validate(doc, VERSIONS[0])
    with pytest.raises(jsonschema.ValidationError):
        validate(_misspelt(doc), VERSIONS[0])


def test_a_kind_without_a_schema_is_an_error_not_a_warning() -> None:
    """NVIDIA's chart's HPA version, removed in Kubernetes 1.26."""
    hpa = {"apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler"}
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        validate({**hpa, "metadata": {"name": "x"}, "spec": {}}, VERSIONS[1])
