"""Why a test that needs real TensorRT on a real GPU skips here (None: it can run)."""

from __future__ import annotations

import importlib.util

from convert.errors import EngineBuildError

INSTALL_HINT = "tensorrt is not installed (pip install 'u2net-triton[gpu]' or the TRT container)"


def gpu_skip_reason() -> str | None:
    """tensorrt importable and loadable, and a GPU visible; else why not, in one line."""
    if importlib.util.find_spec("tensorrt") is None:
        return INSTALL_HINT
    from convert.trt.cuda import gpu_info
    from convert.trt.tensorrt_lib import load_tensorrt

    try:
        load_tensorrt()
        gpu_info()
    except EngineBuildError as e:
        return str(e)
    return None
