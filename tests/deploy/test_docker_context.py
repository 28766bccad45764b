""".dockerignore against what deploy/*/Dockerfile copy: every committed file a COPY names is
in the build context, and staged models are not, by Docker's own matching rules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from docker.utils.build import PatternMatcher

from tests.deploy.conftest import ROOT

DOCKERFILES = sorted((ROOT / "deploy").glob("*/Dockerfile"))


def _ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def in_context(path: str) -> bool:
    """Docker's own matching (docker-py's port of the engine's ``.dockerignore`` rules)."""
    return not PatternMatcher(_ignore_patterns()).matches(path)


def _copied_sources(dockerfile: Path) -> list[str]:
    sources = []
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            sources += line.split()[1:-1]
    return sources


def _tracked(source: str) -> list[str]:
    done = subprocess.run(
        ["git", "ls-files", "--", source], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout.split()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_every_committed_file_a_dockerfile_copies_is_in_the_context(dockerfile: Path) -> None:
    sources = _copied_sources(dockerfile)
    assert sources
    for source in sources:
        files = _tracked(source)
        assert files, f"{dockerfile.parent.name}: COPY {source} names no committed file"
        left_out = [f for f in files if not in_context(f)]
        assert left_out == [], f"{dockerfile.parent.name}: .dockerignore leaves out {left_out}"


@pytest.mark.parametrize(
    "path",
    [
        "model_repository/u2net_onnx/1/model.onnx",
        "model_repository/u2net_trt/1/model.plan",
        "model_repository/u2netp_onnx/1/manifest.json",
        "u2net/__pycache__/contract.cpython-311.pyc",
        ".venv/bin/python",
        "tests/data.py",
    ],
)
def test_staged_models_and_the_rest_stay_out(path: str) -> None:
    assert not in_context(path)
