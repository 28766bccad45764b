"""The pure parts of the gRPC layer: model choice, contract check, retry schedule, how
Triton's errors are told apart, and what every channel is told."""

from __future__ import annotations

import json
import threading

import pytest
from tritonclient.utils import InferenceServerException

from client.errors import (
    BadInput,
    InferenceFailed,
    ModelNotReady,
    RemoteError,
    ServerUnavailable,
    TimedOut,
)
from client.pipeline import InTurn, map_ordered
from client.retry import RetryPolicy
from client.triton import ModelChoice, channel_options, resolve_model, translate
from u2net.catalogue import SERVED_NAMES, served_candidates
from u2net.contract import CONTRACT, check_metadata
from u2net.errors import ContractMismatch


@pytest.mark.parametrize(
    ("requested", "ready", "expected"),
    [
        ("u2net", ["u2net_onnx", "u2net_trt"], "u2net_trt"),
        ("u2net", ["u2net_onnx", "u2netp_onnx"], "u2net_onnx"),
        ("u2netp_onnx", ["u2netp_onnx", "u2netp_trt"], "u2netp_onnx"),
        # the base name is fp32 only, even where the int8 variant is loaded; int8 by name
        ("u2net", ["u2net_int8", "u2net_onnx"], "u2net_onnx"),
        ("u2net_int8", ["u2net_int8", "u2net_onnx", "u2net_trt"], "u2net_int8"),
    ],
)
def test_resolve_model(requested: str, ready: list[str], expected: str) -> None:
    assert resolve_model(served_candidates(requested), ready) == expected


def test_resolve_model_lists_ready_models() -> None:
    with pytest.raises(ModelNotReady, match=r"ready models: u2netp_onnx$"):
        resolve_model(served_candidates("u2net"), ["u2netp_onnx"])


def test_resolve_model_says_none_is_ready() -> None:
    with pytest.raises(ModelNotReady) as info:
        resolve_model(served_candidates("u2netp"), [])
    assert str(info.value) == (
        "model u2netp_trt or u2netp_onnx is not ready on the server; ready models: none"
    )


def _meta(in_shape: list[int], in_dtype: str = "UINT8", out_name: str = "mask") -> dict:
    return {
        "name": "m",
        "inputs": [{"name": CONTRACT.input_name, "datatype": in_dtype, "shape": in_shape}],
        "outputs": [{"name": out_name, "datatype": "UINT8", "shape": ["-1", "320", "320"]}],
    }


def test_contract_accepts_the_served_shape() -> None:
    check_metadata(_meta(["-1", "320", "320", "3"]))


@pytest.mark.parametrize(
    ("meta", "says"),
    [
        (_meta([-1, 3, 320, 320]), "expected inputs [('image', 'UINT8', [-1, 320, 320, 3])]"),
        (_meta([-1, 320, 320, 3], "FP32"), "got [('image', 'FP32'"),
        (_meta([-1, 320, 320, 3], out_name="1959"), "got [('1959', 'UINT8'"),
    ],
    ids=["nchw", "float", "output-name"],
)
def test_contract_mismatch_says_expected_and_got(meta: dict, says: str) -> None:
    with pytest.raises(ContractMismatch) as info:
        check_metadata(meta)
    assert says in str(info.value)


def test_retry_backoff_is_bounded() -> None:
    assert list(
        RetryPolicy(retries=5, first_delay_s=0.5, max_delay_s=2.0, jitter=False).delays()
    ) == [
        0.5,
        1.0,
        2.0,
        2.0,
        2.0,
    ]


def test_map_ordered_keeps_order_and_bounds_lookahead() -> None:
    started: list[int] = []

    def work(i: int) -> int:
        started.append(i)
        if i == 3:
            raise ValueError("three")
        return i * i

    results = map_ordered(work, range(100), workers=2, return_exceptions=True)
    first = next(results)
    assert first == 0 and len(started) <= 4 + 2
    rest = list(results)
    assert [r if isinstance(r, int) else "err" for r in [first, *rest]][:5] == [0, 1, 4, "err", 16]


def test_in_turn_runs_the_step_in_index_order_whatever_order_threads_arrive() -> None:
    in_turn, taken = InTurn(), []
    threads = [
        threading.Thread(target=in_turn.take, args=(i, taken.append, i), daemon=True)
        for i in (4, 2, 3, 0)
    ]
    threads.append(threading.Thread(target=in_turn.skip, args=(1,), daemon=True))  # failed
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert taken == [0, 2, 3, 4]


def test_in_turn_under_map_ordered_smooths_in_order_on_many_threads() -> None:
    in_turn, seen = InTurn(), []

    def work(i: int) -> int:
        if i % 7 == 3:
            in_turn.skip(i)
            raise ValueError("failed before its turn")
        return in_turn.take(i, lambda v: seen.append(v) or v, i)

    results = list(map_ordered(work, range(60), workers=4, return_exceptions=True))
    assert seen == [i for i in range(60) if i % 7 != 3]
    assert [r for r in results if isinstance(r, int)] == seen


URL = "127.0.0.1:8001"
REFUSED = "failed to connect to all addresses; last error: Connection refused"
UNKNOWN = "Request for unknown model: 'cutout' has no available versions"


@pytest.mark.parametrize(
    ("status", "message", "kind", "says"),
    [
        ("UNAVAILABLE", REFUSED, ServerUnavailable, f"no Triton server answering at {URL}: "),
        ("UNAVAILABLE", "model u2net_onnx is not loaded on this server", ModelNotReady, "model "),
        ("NOT_FOUND", UNKNOWN, ModelNotReady, UNKNOWN),
        ("NOT_FOUND", "no such thing", ModelNotReady, "no such thing"),
        ("INTERNAL", "cutout: Server not ready", ModelNotReady, "cutout: Server not ready"),
        ("INVALID_ARGUMENT", "not an image\nsecond line", BadInput, "not an image"),
        ("DEADLINE_EXCEEDED", "Deadline Exceeded", TimedOut, "timed out after 2.5s"),
        ("INTERNAL", "onnxruntime failed", InferenceFailed, "onnxruntime failed"),
        ("CANCELLED", "CANCELLED", ServerUnavailable, f"the Triton server at {URL} stopped"),
    ],
)
def test_triton_errors_are_told_apart(
    status: str, message: str, kind: type[RemoteError], says: str
) -> None:
    """Bad input, nothing there right now (as the retry rules read Triton), out of time, or
    another failure; each keeps the server's first line and gRPC's status."""
    error = translate(InferenceServerException(message, f"StatusCode.{status}"), URL, 2.5)
    assert type(error) is kind
    assert str(error).startswith(says) and "\n" not in str(error)
    assert (error.status, error.reason) == (status, message.splitlines()[0])


@pytest.mark.parametrize("target", [URL, "dns:///triton:8001", "h1:8001,h2:8001"])
def test_every_channel_reconnects_fast_and_takes_any_message_size(target: str) -> None:
    """A lost server is tried again within a second (gRPC's own backoff grows to 120 s),
    single or balanced; tritonclient's unlimited message sizes stay."""
    args = dict(channel_options(target)["channel_args"])
    assert args["grpc.max_reconnect_backoff_ms"] <= 1000
    assert args["grpc.initial_reconnect_backoff_ms"] <= args["grpc.max_reconnect_backoff_ms"]
    assert args["grpc.max_send_message_length"] == args["grpc.max_receive_message_length"]
    assert args["grpc.max_send_message_length"] == 2**31 - 1


@pytest.mark.parametrize(
    ("target", "url", "balanced"),
    [
        (URL, URL, False),
        ("dns:///triton:8001", "dns:///triton:8001", True),
        ("h1:8001,h2:8001", "ipv4:h1:8001,h2:8001", True),
    ],
)
def test_several_replicas_are_balanced_round_robin(target: str, url: str, balanced: bool) -> None:
    options = channel_options(target)
    args = dict(options["channel_args"])
    assert options["url"] == url
    assert (args.get("grpc.lb_policy_name") == "round_robin") is balanced
    if balanced:
        assert json.loads(args["grpc.service_config"])["loadBalancingConfig"] == [
            {"round_robin": {}}
        ]


def converse(steps, answers: dict) -> tuple[object, list[tuple]]:
    """Carry out a conversation written as Steps against fixed answers; what was asked, in
    order, and the value it ended with (as BlockingLink.run does with a server)."""
    asked: list[tuple] = []
    try:
        call = next(steps)
        while True:
            asked.append((call.method, *call.args))
            call = steps.send(answers[(call.method, *call.args)])
    except StopIteration as done:
        return done.value, asked


def served_metadata(name: str) -> dict:
    tensors = {"inputs": CONTRACT.inputs, "outputs": CONTRACT.outputs}
    return {"name": name} | {
        kind: [{"name": n, "datatype": d, "shape": s} for n, d, s in found]
        for kind, found in tensors.items()
    }


def test_a_model_is_chosen_in_candidate_order_checked_once_and_remembered() -> None:
    choice = ModelChoice("u2netp", CONTRACT)
    answers = {
        ("is_server_ready",): True,
        ("is_model_ready", "u2netp_trt"): False,
        ("is_model_ready", "u2netp_onnx"): True,
        ("get_model_metadata", "u2netp_onnx"): served_metadata("u2netp_onnx"),
    }
    name, asked = converse(choice.resolution("host:1"), answers)
    assert name == choice.served_name == "u2netp_onnx"
    assert asked == [
        ("is_server_ready",),
        ("is_model_ready", "u2netp_trt"),
        ("is_model_ready", "u2netp_onnx"),
        ("get_model_metadata", "u2netp_onnx"),
    ]


def test_no_ready_candidate_names_the_ready_models_and_a_server_not_ready_says_so() -> None:
    answers = {("is_server_ready",): True} | {
        ("is_model_ready", name): name == "u2netp_onnx" for name in SERVED_NAMES
    }
    with pytest.raises(ModelNotReady, match=r"ready models: u2netp_onnx$"):
        converse(ModelChoice("u2net", CONTRACT).resolution("host:1"), answers)
    with pytest.raises(ServerUnavailable, match="up but not ready"):
        converse(ModelChoice("u2net", CONTRACT).resolution("host:1"), {("is_server_ready",): 0})
