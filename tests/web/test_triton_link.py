"""web's one translation of the client's errors into HTTP: status, code and the line users
see. (End to end: test_bad_input.py for 400, test_ops.py and test_restart.py for 503.)"""

from __future__ import annotations

import pytest

from client.errors import (
    BadInput,
    ContractMismatch,
    InferenceFailed,
    ModelNotReady,
    ServerUnavailable,
    TimedOut,
)
from u2net.errors import ServingError
from web.errors import BadRequest
from web.triton_link import TritonLink, http_error

URL = "triton:8001"
REFUSED = "failed to connect to all addresses"


@pytest.mark.parametrize(
    ("error", "status", "code", "says"),
    [
        (BadInput("not an image Pillow can read"), 400, "invalid_request",
         "not an image Pillow can read"),
        (ServerUnavailable("no Triton server answering at …", REFUSED, "UNAVAILABLE"), 503,
         "service_unavailable", f"the inference server at {URL} is unavailable: {REFUSED}"),
        (ModelNotReady("Request for unknown model: 'cutout'", status="NOT_FOUND"), 503,
         "service_unavailable",
         f"the inference server at {URL} is unavailable: Request for unknown model: 'cutout'"),
        (TimedOut(60.0, "Deadline Exceeded"), 504, "timeout",
         "the inference server did not answer within 60s"),
        (InferenceFailed("cutout: onnxruntime failed", status="INTERNAL"), 502,
         "processing_failed", "processing failed: cutout: onnxruntime failed"),
        (ContractMismatch("expected outputs [...], got [...]"), 502, "processing_failed",
         "processing failed: expected outputs [...], got [...]"),
    ],
    ids=["bad-input", "unavailable", "not-found", "deadline", "failed", "contract"],
)  # fmt: skip
def test_client_errors_become_http_errors(
    error: ServingError, status: int, code: str, says: str
) -> None:
    web = http_error(error, URL)
    assert (web.status, web.code, str(web)) == (status, code, says)
    assert web.status != 503 or web.retry_after_s  # 503s say when to come back


@pytest.mark.parametrize(
    ("requested", "refused"),
    [("u2netp", False), ("u2netp_onnx", False), ("u2net", True), ("u2net_onnx", True),
     ("isnet-general-use", True), ("u2netp_int8", True), ("my_own", True)],
    ids=["loaded", "loaded-served-name", "not-loaded", "not-loaded-served-name",
         "other-family-not-loaded", "int8-not-loaded", "unknown"],
)  # fmt: skip
def test_a_model_that_is_not_loaded_is_refused_here(requested: str, refused: bool) -> None:
    """Once the watcher knows what is loaded, a model that is not (catalogued or not) is a
    400 at once, listing the names a request may give for what is loaded, and only those
    (``cutout``'s answer would list every catalogued name)."""
    link = TritonLink(URL, timeout_s=60.0)
    link.loaded = frozenset({"u2netp_onnx"})
    if refused:
        with pytest.raises(BadRequest, match=r"has loaded \(u2netp, u2netp_onnx\), got"):
            link.refuse_if_not_loaded(requested)
    else:
        link.refuse_if_not_loaded(requested)
