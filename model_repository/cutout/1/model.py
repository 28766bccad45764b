"""``cutout``: the whole background-removal job inside Triton (Python backend).

Encoded image bytes in, finished image bytes out, for any KServe v2 client in any language.
Each request: parse its parameters, decode and resize (u2net.job), one BLS call to the
U²-Net model it names, compose and encode (u2net.job), respond. A bad request gets
INVALID_ARG with one line; the other requests and the instance carry on.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

from u2net.catalogue import (
    KNOWN_MODELS,
    ONNX_SUFFIX,
    SERVED_NAMES,
    contract_of,
    first_ready,
    served_candidates,
)
from u2net.contract import CONTRACT, CUTOUT, says_not_loaded
from u2net.errors import InvalidImage, InvalidRequest, ServingError
from u2net.job import complete, parse_request, prepare
from u2net.options import MAX_PIXELS
from u2net.repository.manifests import custom_models

SERVED = set(SERVED_NAMES)
REPOSITORY = Path(__file__).parents[2]  # <repository>/cutout/1/model.py, as Triton loads it


class Unavailable(ServingError):
    """The U²-Net model a request names is not loaded (retry later or ask for another)."""


def _error(e: ServingError) -> pb_utils.InferenceResponse:
    if isinstance(e, InvalidImage | InvalidRequest):
        code = pb_utils.TritonError.INVALID_ARG
    elif isinstance(e, Unavailable):
        code = pb_utils.TritonError.UNAVAILABLE
    else:
        code = pb_utils.TritonError.INTERNAL
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(str(e), code))


def _served_name(requested: str, served: set[str]) -> str:
    """``u2net`` -> ``u2net_trt`` when it is loaded, else ``u2net_onnx``; served names as is
    (``served``: every name a U²-Net model may be served under here, custom ones too)."""
    candidates = served_candidates(requested)
    if not set(candidates) & served:
        choices = ", ".join([*KNOWN_MODELS, *sorted(served)])
        raise InvalidRequest(f"parameter model: expected one of {choices}, got {requested!r}")
    try:
        ready = [name for name in candidates if pb_utils.is_model_ready(name)]
    except pb_utils.TritonModelException as e:  # the server is stopping or starting
        raise Unavailable(f"the server is not ready ({e}); try again") from e
    not_loaded = f"model {' or '.join(candidates)} is not loaded on this server"
    return first_ready(candidates, ready, lambda: Unavailable(not_loaded))


def _gone(code: int) -> bool:
    """The inner model's answer while it unloads (the server stops or restarts): try again.
    (pb_utils.TritonError only exists once the stub runs, not at import.)"""
    errors = pb_utils.TritonError
    return code in (errors.UNAVAILABLE, errors.NOT_FOUND, errors.CANCELLED)


def _mask(served: str, batch: np.ndarray) -> np.ndarray:
    request = pb_utils.InferenceRequest(
        model_name=served,
        requested_output_names=[CONTRACT.output_name],
        inputs=[pb_utils.Tensor(CONTRACT.input_name, batch)],
    )
    try:
        response = request.exec()
    except pb_utils.TritonModelException as e:  # the server is stopping or starting
        raise Unavailable(f"{served} cannot be reached ({e}); try again") from e
    if response.has_error():
        error = response.error()
        gone = _gone(error.code()) or says_not_loaded(error.message())
        kind = Unavailable if gone else ServingError
        raise kind(f"{served}: {error.message()}")
    return pb_utils.get_output_tensor_by_name(response, CONTRACT.output_name).as_numpy()[0]


def _background(request: object) -> bytes | None:
    """The optional background photo's bytes, if the request sent one."""
    tensor = pb_utils.get_input_tensor_by_name(request, CUTOUT.background_name)
    if tensor is None:
        return None
    data = tensor.as_numpy()
    if data.size != 1:
        raise InvalidRequest(f"{CUTOUT.background_name}: expected 1 image, got {data.size}")
    return bytes(data.reshape(-1)[0])


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        self.max_pixels = int(config["parameters"][MAX_PIXELS]["string_value"])
        # the models `python -m convert custom` staged beside this one (base name -> family)
        self.custom = custom_models(REPOSITORY)
        self.served = SERVED | {name + ONNX_SUFFIX for name in self.custom}

    def execute(self, requests: list) -> list:
        return [self._answer(request) for request in requests]

    def _answer(self, request: object) -> pb_utils.InferenceResponse:
        try:
            return self._cut(request)
        except ServingError as e:
            return _error(e)
        except json.JSONDecodeError as e:
            return _error(InvalidRequest(f"expected request parameters as JSON, got {e}"))
        # A bug: this request fails with one line (traceback in the server log); the other
        # requests of this execute and the instance carry on.
        except Exception as e:  # noqa: BLE001
            pb_utils.Logger.log_error(f"cutout: {traceback.format_exc()}")
            line = " ".join(str(e).split())
            return _error(ServingError(f"internal error in cutout ({type(e).__name__}: {line})"))

    def _cut(self, request: object) -> pb_utils.InferenceResponse:
        data = pb_utils.get_input_tensor_by_name(request, CUTOUT.input_name).as_numpy()
        if data.size != 1:
            raise InvalidRequest(f"{CUTOUT.input_name}: expected 1 image, got {data.size}")
        image = data.reshape(-1)[0]
        parameters = json.loads(request.parameters() or "{}")
        parsed = parse_request(parameters, _background(request))
        served = _served_name(parsed.model, self.served)
        contract = contract_of(served, self.custom)
        prepared = prepare(bytes(image), parsed, self.max_pixels, contract)
        result = complete(prepared, _mask(served, prepared.batch))
        tensors = [
            (CUTOUT.output_name, np.array([result.data], dtype=np.object_)),
            (CUTOUT.size_name, np.array(result.size, dtype=np.int32)),
            (CUTOUT.box_name, np.array(result.box, dtype=np.int32)),
        ]
        return pb_utils.InferenceResponse(
            output_tensors=[pb_utils.Tensor(name, value) for name, value in tensors]
        )
