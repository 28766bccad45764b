"""Facts about where the models are served, kept in one place: the server's address, and the
NVIDIA release the GPU stack is pinned to (``docker-compose.yml``; a test checks they agree).

A TensorRT plan only loads in the TensorRT version it was built with, so the version inside
the pinned ``tritonserver`` image is the one every staged plan must name.
"""

from __future__ import annotations

import os

URL_ENV = "U2NET_TRITON_URL"
DEFAULT_URL = "localhost:8001"
START_HINT = "start one with `python -m server` (or `docker compose up` on a GPU host)"

NGC_RELEASE = "24.10"  # nvcr.io/nvidia/tritonserver:24.10-py3 and tensorrt:24.10-py3
RELEASE_ENV = "NGC_RELEASE"  # compose's setting (and the images' build argument)
TRITON_IMAGE = f"nvcr.io/nvidia/tritonserver:{NGC_RELEASE}-py3"
TENSORRT_IMAGE = f"nvcr.io/nvidia/tensorrt:{NGC_RELEASE}-py3"
NGC_TENSORRT_VERSION = "10.5.0"
NGC_CUDA_VERSION = "12.6.2"
# NVIDIA's release notes for 24.10: driver 560 or later; data-center GPUs may also use these
# forward-compatible branches (at least this version within the branch).
NGC_MIN_DRIVER_BRANCH = 560
NGC_FORWARD_COMPATIBLE_DRIVERS: tuple[str, ...] = ("470.57", "525.85", "535.86", "545.23")

# What a GPU host outside the containers installs (pyproject's [gpu] extra; a test checks they
# agree): a CUDA 12 onnxruntime-gpu, and the TensorRT of the pinned release with its cu12 parts.
ORT_GPU_REQUIREMENT = "onnxruntime-gpu[cuda,cudnn]>=1.19,<1.27"
TENSORRT_REQUIREMENTS: tuple[str, ...] = tuple(
    f"{part}=={NGC_TENSORRT_VERSION}.*"
    for part in ("tensorrt", "tensorrt-cu12", "tensorrt-cu12-bindings", "tensorrt-cu12-libs")
)


def pip_install(*requirements: str) -> str:
    """A copy-pasteable ``pip install`` line (each requirement quoted for the shell)."""
    return "pip install " + " ".join(f"'{r}'" for r in requirements)


def release_in_use() -> str:
    """The NGC release the GPU stack runs: ``$NGC_RELEASE`` as compose reads it, else the pin."""
    return os.environ.get(RELEASE_ENV) or NGC_RELEASE


def tensorrt_in_use() -> str | None:
    """The TensorRT inside the release in use; None for a release this project has not pinned
    (its TensorRT version is not known here, so plans cannot be compared with it)."""
    return NGC_TENSORRT_VERSION if release_in_use() == NGC_RELEASE else None


def default_url() -> str:
    """The gRPC address clients talk to: ``$U2NET_TRITON_URL``, else ``localhost:8001``."""
    return os.environ.get(URL_ENV) or DEFAULT_URL
