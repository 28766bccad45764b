"""The engine build's decisions, on CPU: fp16 pinning, builder flags, the timing cache.

TensorRT is replaced by small fakes with the same method names; the pinning runs on the
layers TensorRT's ONNX parser makes of the staged u2netp serving graph (emulated from its
naming rules in tests/convert/trt/onnx_layers.py) and on hand-written plain data.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import onnx
import pytest

from convert.errors import EngineBuildError
from convert.graph import SERVING_PREFIX
from convert.trt.build import (
    apply_precision,
    attach_timing_cache,
    fp16_method,
    layer_infos,
    pin_serving_layers,
)
from convert.trt.layers import LayerInfo, layers_to_pin
from tests.convert.trt.onnx_layers import parsed_layers
from tests.data import staged_model

F, I64, U8 = "FLOAT", "INT64", "UINT8"


@pytest.fixture(scope="module")
def u2netp_layers() -> list[LayerInfo]:
    return parsed_layers(onnx.load(str(staged_model("u2netp_onnx"))))


def _downstream(layers: list[LayerInfo], start: str) -> list[LayerInfo]:
    """The layers reachable from the layer named ``start`` before the U²-Net body (whose
    layers are named after its ONNX nodes: neither ``serving/`` nor ``ONNXTRT_``)."""
    by_input: dict[str, list[LayerInfo]] = {}
    for layer in layers:
        for tensor in layer.inputs:
            by_input.setdefault(tensor, []).append(layer)
    found, stack = {}, [next(x for x in layers if x.name == start)]
    while stack:
        layer = stack.pop()
        if layer.name not in found and layer.name.startswith((SERVING_PREFIX, "ONNXTRT_")):
            found[layer.name] = layer
            stack.extend(u for out in layer.outputs for u in by_input.get(out, ()))
    return list(found.values())


@pytest.mark.parametrize("constant", ["tiny", "scale", "max_floor"])
def test_every_float_layer_from_a_serving_constant_on_is_pinned(
    u2netp_layers: list[LayerInfo], constant: str
) -> None:
    """The divide guard must reach the Max in fp32, through the parser's broadcast."""
    pinned = set(layers_to_pin(u2netp_layers))
    path = _downstream(u2netp_layers, SERVING_PREFIX + constant)
    assert any(layer.name.startswith("ONNXTRT_Broadcast") for layer in path)
    unpinned = [x.name for x in path if x.computes_in_float and x.name not in pinned]
    assert unpinned == []


def test_the_parser_broadcasts_into_serving_layers_are_pinned(
    u2netp_layers: list[LayerInfo],
) -> None:
    pinned = layers_to_pin(u2netp_layers)
    broadcasts = [name for name in pinned if name.startswith("ONNXTRT_Broadcast")]
    assert len(broadcasts) == 3  # max_floor, tiny, scale: the 0-D constants
    assert any(name != "ONNXTRT_Broadcast" for name in broadcasts)  # uniquified ones too


def test_nothing_of_the_body_and_no_integer_layer_is_pinned(
    u2netp_layers: list[LayerInfo],
) -> None:
    pinned = layers_to_pin(u2netp_layers)
    assert all(n.startswith((SERVING_PREFIX, "ONNXTRT_Broadcast")) for n in pinned)
    serving = {x.name for x in u2netp_layers if x.name.startswith(SERVING_PREFIX)}
    # the uint8 casts at either end, the only serving layers left out
    assert serving - set(pinned) == {SERVING_PREFIX + "x", SERVING_PREFIX + "mask"}


@pytest.mark.parametrize(
    ("layers", "pinned"),
    [
        (  # a helper chain: cast, then broadcast, into a serving layer
            [
                LayerInfo("ONNXTRT_castHelper", ("c",), ("c32",), (F,), (F,)),
                LayerInfo("ONNXTRT_Broadcast_7", ("c32", "s"), ("b",), (F, I64), (F,)),
                LayerInfo("serving/div", ("x", "b"), ("y",), (F, F), (F,)),
            ],
            ["ONNXTRT_castHelper", "ONNXTRT_Broadcast_7", "serving/div"],
        ),
        (  # a helper that also feeds the body stays free
            [
                LayerInfo("ONNXTRT_Broadcast", ("c", "s"), ("b",), (F, I64), (F,)),
                LayerInfo("serving/add", ("x", "b"), ("y",), (F, F), (F,)),
                LayerInfo("Conv_3", ("b",), ("z",), (F,), (F,)),
            ],
            ["serving/add"],
        ),
        (  # integer shape helpers and a helper feeding nothing are left alone
            [
                LayerInfo("ONNXTRT_ShapeConcat", (), ("s",), (), (I64,)),
                LayerInfo("ONNXTRT_Broadcast", ("c", "s"), ("b",), (F, I64), (F,)),
                LayerInfo("ONNXTRT_identity", ("b",), ("dangling",), (F,), (F,)),
                LayerInfo("serving/cast", ("b",), ("m",), (F,), (U8,)),
            ],
            [],
        ),
    ],
    ids=["helper-chain", "shared-helper", "integers"],
)
def test_pinning_on_plain_data(layers: list[LayerInfo], pinned: list[str]) -> None:
    assert layers_to_pin(layers) == pinned


# --- the thin TensorRT shell, against fakes -------------------------------------------


class _Tensor:
    def __init__(self, name: str, dtype: str) -> None:
        self.name, self.dtype = name, SimpleNamespace(name=dtype)


class _Layer:
    def __init__(self, info: LayerInfo) -> None:
        self.name = info.name
        self.ins = [_Tensor(n, d) for n, d in zip(info.inputs, info.input_dtypes, strict=True)]
        self.outs = [_Tensor(n, d) for n, d in zip(info.outputs, info.output_dtypes, strict=True)]
        self.num_inputs, self.num_outputs = len(self.ins), len(self.outs)
        self.precision = None
        self.output_types: dict[int, object] = {}

    def get_input(self, i: int) -> _Tensor:
        return self.ins[i]

    def get_output(self, i: int) -> _Tensor:
        return self.outs[i]

    def set_output_type(self, i: int, dtype: object) -> None:
        self.output_types[i] = dtype


class _Network:
    def __init__(self, infos: list[LayerInfo]) -> None:
        self.layers = [_Layer(info) for info in infos]
        self.num_layers = len(self.layers)

    def get_layer(self, i: int) -> _Layer:
        return self.layers[i]


def test_the_shell_pins_exactly_the_selected_layers(u2netp_layers: list[LayerInfo]) -> None:
    network = _Network(u2netp_layers)
    assert layer_infos(network) == u2netp_layers
    trt = SimpleNamespace(float32="fp32")
    pinned = pin_serving_layers(trt, network)
    assert pinned == sorted(layers_to_pin(u2netp_layers))
    for layer in network.layers:
        expected = "fp32" if layer.name in pinned else None
        assert layer.precision == expected, layer.name
        assert set(layer.output_types.values()) <= {expected} - {None}


class _FlagConfig:
    def __init__(self) -> None:
        self.set: list[str] = []
        self.cleared: list[str] = []

    def set_flag(self, flag: str) -> None:
        self.set.append(flag)

    def clear_flag(self, flag: str) -> None:
        self.cleared.append(flag)


ALL_FLAGS = ("FP16", "TF32", "PREFER_PRECISION_CONSTRAINTS")


def _trt(*flags: str, version: str = "10.5.0") -> SimpleNamespace:
    return SimpleNamespace(
        __version__=version, BuilderFlag=SimpleNamespace(**{f: f for f in flags})
    )


@pytest.mark.parametrize(("major", "method"), [(10, "builder-flag"), (11, "onnx"), (12, "onnx")])
def test_fp16_method_by_tensorrt_major(major: int, method: str) -> None:
    assert fp16_method(major) == method


@pytest.mark.parametrize(
    ("precision", "method", "flags_set", "flags_cleared", "pin"),
    [
        ("fp32", "builder-flag", [], ["TF32"], False),
        ("fp32", "onnx", [], ["TF32"], False),
        ("fp16", "builder-flag", ["FP16", "PREFER_PRECISION_CONSTRAINTS"], [], True),
        ("fp16", "onnx", [], [], False),
    ],
)
def test_builder_flags(
    precision: str, method: str, flags_set: list, flags_cleared: list, pin: bool
) -> None:
    config = _FlagConfig()
    assert apply_precision(_trt(*ALL_FLAGS), config, precision, method) is pin
    assert (config.set, config.cleared) == (flags_set, flags_cleared)


@pytest.mark.parametrize(
    ("precision", "missing", "warning"),
    [("fp32", "TF32", "no TF32 flag"), ("fp16", "PREFER_PRECISION_CONSTRAINTS", "cannot be kept")],
)
def test_a_missing_flag_is_a_warning_not_silence(
    caplog: pytest.LogCaptureFixture, precision: str, missing: str, warning: str
) -> None:
    trt = _trt(*(f for f in ALL_FLAGS if f != missing), version="11.0.0")
    with caplog.at_level(logging.WARNING, logger="convert.trt.build"):
        assert apply_precision(trt, _FlagConfig(), precision, "builder-flag") is False
    assert warning in caplog.text
    assert "11.0.0" in caplog.text


def test_fp16_flag_missing_is_one_clear_error() -> None:
    with pytest.raises(EngineBuildError, match="no FP16 builder flag"):
        apply_precision(_trt("TF32"), _FlagConfig(), "fp16", "builder-flag")


class _Cache:
    def __init__(self, data: bytes) -> None:
        self.data = data


class _CacheConfig:
    """create_timing_cache: None for data it cannot read; set_timing_cache: False on mismatch."""

    def __init__(self, readable: bool = True, matching: bool = True, fresh: bool = True) -> None:
        self.readable, self.matching, self.fresh = readable, matching, fresh
        self.attached: list[_Cache] = []

    def create_timing_cache(self, data: bytes) -> _Cache | None:
        if (data and not self.readable) or (not data and not self.fresh):
            return None
        return _Cache(bytes(data))

    def set_timing_cache(self, cache: _Cache, ignore_mismatch: bool) -> bool:
        if not isinstance(cache, _Cache):  # TensorRT's binding: TypeError on None
            raise TypeError("set_timing_cache(): incompatible function arguments")
        assert ignore_mismatch is False
        if cache.data and not self.matching:
            return False
        self.attached.append(cache)
        return True


@pytest.mark.parametrize(
    ("saved", "config", "attached", "warning"),
    [
        (b"saved", _CacheConfig(), b"saved", None),
        (None, _CacheConfig(), b"", None),
        (b"stale", _CacheConfig(readable=False), b"", "is unreadable; starting a fresh one"),
        (b"foreign", _CacheConfig(matching=False), b"", "another GPU or TensorRT"),
    ],
    ids=["reused", "first-build", "unreadable", "other-gpu"],
)
def test_timing_cache_falls_back_to_a_fresh_one(
    caplog: pytest.LogCaptureFixture,
    saved: bytes | None,
    config: _CacheConfig,
    attached: bytes,
    warning: str | None,
) -> None:
    with caplog.at_level(logging.WARNING, logger="convert.trt.build"):
        cache = attach_timing_cache(config, saved)
    assert [c.data for c in config.attached] == [attached]
    assert cache is config.attached[0]
    if warning is None:
        assert caplog.records == []
    else:
        assert warning in caplog.text


def test_without_any_timing_cache_the_build_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    config = _CacheConfig(readable=False, fresh=False)
    with caplog.at_level(logging.WARNING, logger="convert.trt.build"):
        assert attach_timing_cache(config, b"stale") is None
    assert config.attached == []
    assert "building without one" in caplog.text


class _Calibrator:
    def __init__(self) -> None:
        pass


def test_int8_pins_the_float_nodes_to_fp16_and_hands_over_the_cache(
    u2netp_layers: list[LayerInfo],
) -> None:
    from convert.trt.build import apply_int8
    from convert.trt.int8 import Int8Inputs

    network = _Network(u2netp_layers)
    trt = SimpleNamespace(
        float16="fp16", float32="fp32", IInt8MinMaxCalibrator=_Calibrator, __version__="10.5.0"
    )
    config = SimpleNamespace(int8_calibrator=None)
    inputs = Int8Inputs((("x", 0.0, 1.27),), ("Concat_786", "Conv_787", "serving/p255"), "md5")
    apply_int8(trt, network, config, inputs)
    by_name = {layer.name: layer for layer in network.layers}
    assert by_name["Conv_787"].precision == "fp16" and by_name["Concat_786"].precision == "fp16"
    assert by_name["serving/p255"].precision is None  # the serving layers stay fp32 (pinned apart)
    assert sum(layer.precision == "fp16" for layer in network.layers) == 2
    cache = config.int8_calibrator.read_calibration_cache()
    assert cache.startswith(b"TRT-100500-MinMaxCalibration\nx: ")
    assert config.int8_calibrator.get_batch(["image"]) is None
