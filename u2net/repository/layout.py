"""The Triton model repository's layout: where it is, and how its parts are named and read.

    <repository>/<served name>/config.pbtxt            the GPU/default configuration
    <repository>/<served name>/configs/cpu.pbtxt       the embedded CPU server's one
    <repository>/<served name>/1/model.onnx|model.plan the staged model
    <repository>/<served name>/1/manifest.json         what it was staged from
    <repository>/<model>_int8/quantize/                the int8 calibration cache and the
                                                       sensitivity search's result (not served)

Reading a config needs Triton's protobuf (tritonclient), imported when it is asked for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

REPOSITORY_ENV = "U2NET_MODEL_REPOSITORY"
REPOSITORY_DIRNAME = "model_repository"
VERSION_DIR = "1"
CONFIG_FILE = "config.pbtxt"
CUSTOM_CONFIGS_DIR = "configs"  # Triton's custom model configurations (--model-config-name)
CPU_CONFIG_NAME = "cpu"  # the embedded CPU server's configuration
MANIFEST = "manifest.json"
ONNX_FILE = "model.onnx"
PLAN_FILE = "model.plan"
PYTHON_FILE = "model.py"
QUANTIZE_DIR = "quantize"
# Triton's default model file per platform, then per backend
_PLATFORM_FILES = {"tensorrt_plan": PLAN_FILE, "onnxruntime_onnx": ONNX_FILE}
_BACKEND_FILES = {"onnxruntime": ONNX_FILE, "tensorrt": PLAN_FILE, "python": PYTHON_FILE}
# A config parameter of our ONNX Runtime backend (server/backends/onnxruntime): at most this
# many images per session.run; absent, the whole batch in one.
MAX_SESSION_BATCH = "max_session_batch"
# The environment variable that sets our ONNX Runtime backend's threads per session on this
# host, over every config's intra_op_thread_count: for a host whose cores other work shares.
INTRA_OP_THREADS_ENV = "U2NET_INTRA_OP_THREADS"


def default_repository() -> Path:
    """``$U2NET_MODEL_REPOSITORY``; else the checkout's ``model_repository/`` when running from a
    source checkout (editable install); else ``./model_repository`` in the working folder."""
    if os.environ.get(REPOSITORY_ENV):
        return Path(os.environ[REPOSITORY_ENV]).expanduser()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / REPOSITORY_DIRNAME).is_dir():
        return checkout / REPOSITORY_DIRNAME
    return Path.cwd() / REPOSITORY_DIRNAME


def config_path(repository: Path, served_name: str, config_name: str | None = None) -> Path:
    """``config.pbtxt``, or the custom configuration ``configs/<config_name>.pbtxt``."""
    if config_name is None:
        return Path(repository) / served_name / CONFIG_FILE
    return Path(repository) / served_name / CUSTOM_CONFIGS_DIR / f"{config_name}.pbtxt"


def staged_paths(repository: Path, served_name: str, filename: str) -> tuple[Path, Path]:
    """(staged model file, its manifest) of one served model."""
    folder = Path(repository) / served_name / VERSION_DIR
    return folder / filename, folder / MANIFEST


def quantize_dir(repository: Path, served_name: str) -> Path:
    """Where ``python -m convert quantize`` keeps what it measured, for reruns and TensorRT."""
    return Path(repository) / served_name / QUANTIZE_DIR


def model_filename(config: Any) -> str:
    """The file a parsed config names in each version folder: its ``default_model_filename``,
    else its platform's or backend's default, else ``model.onnx``."""
    return (
        config.default_model_filename
        or _PLATFORM_FILES.get(config.platform)
        or _BACKEND_FILES.get(config.backend, ONNX_FILE)
    )


def read_config(path: Path) -> Any:
    """Parse a ``config.pbtxt`` into Triton's ``ModelConfig`` protobuf.

    Raises ``google.protobuf.text_format.ParseError`` or ``OSError``; callers translate.
    """
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(Path(path).read_text(), model_config_pb2.ModelConfig())
