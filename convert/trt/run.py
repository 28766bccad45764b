"""Run a serialized TensorRT plan on one batch (used to verify a freshly built engine)."""

from __future__ import annotations

import numpy as np

from convert.errors import EngineBuildError
from convert.trt.cuda import DeviceMemory
from convert.trt.tensorrt_lib import load_tensorrt, make_logger
from u2net.contract import CONTRACT, ServingContract


def run_plan(plan: bytes, batch: np.ndarray, contract: ServingContract = CONTRACT) -> np.ndarray:
    """Deserialize ``plan`` and run one batch synchronously; returns the [N,H,W] masks."""
    trt = load_tensorrt()
    logger = make_logger(trt)
    runtime = trt.Runtime(logger)
    engine = runtime.deserialize_cuda_engine(plan)
    if engine is None:
        raise EngineBuildError("TensorRT could not deserialize the plan it just built")
    context = engine.create_execution_context()
    if context is None or not context.set_input_shape(contract.input_name, batch.shape):
        raise EngineBuildError(f"the engine does not accept a batch of shape {batch.shape}")
    out = np.empty(tuple(context.get_tensor_shape(contract.output_name)), contract.output_np_dtype)
    with DeviceMemory() as cuda:
        d_in, d_out = cuda.alloc(batch.nbytes), cuda.alloc(out.nbytes)
        cuda.upload(d_in, batch)
        context.set_tensor_address(contract.input_name, d_in)
        context.set_tensor_address(contract.output_name, d_out)
        if not context.execute_async_v3(cuda.stream_handle):
            raise EngineBuildError("TensorRT failed to run the engine")
        cuda.synchronize()
        cuda.download(out, d_out)
    return out
