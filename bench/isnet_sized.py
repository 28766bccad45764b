"""IS-Net at its real size, for the benches only (never the tests: 176 MB, seconds per image):
ISNetDIS of the DIS repository (xuebinqin/DIS, ``IS-Net/models/isnet.py``), the network of
rembg's ``isnet-general-use``, built with ``onnx.helper`` from seeded random weights (no torch).

    conv_in 3->64 3x3 stride 2 (1024² -> 512²), no activation
    encoder RSU7(64,32,64) RSU6(64,32,128) RSU5(128,64,256) RSU4(256,128,512)
            RSU4F(512,256,512) RSU4F(512,256,512), a 2x2 max-pool (ceil) between stages
    decoder RSU4F(1024,256,512) RSU4(1024,128,256) RSU5(512,64,128) RSU6(256,32,64)
            RSU7(128,16,64), each on [upsampled deeper map, skip]
    six side outputs: a 3x3 conv to 1 channel, bilinear upsampling to 1024², sigmoid; the
    finest (ISNetDIS's d1, the mask rembg reads) first, named d0..d5

Every REBNCONV is Conv (batch norm folded in, as exported graphs have it) + Relu. Upsampling
is ``Resize`` (linear, pytorch_half_pixel) by scales, so the graph runs any batch although
its declared input is rembg's ``input.1`` float [1,3,1024,1024] (what ``python -m convert
custom --family isnet`` accepts). Weights are He-scaled and each RSU's two residual branches
are scaled by 1/sqrt(2), so activations neither vanish nor saturate the sigmoid through the
depth: the masks are image-dependent noise, and the costs (convs, memory) are IS-Net's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT = "input.1"  # rembg's files' input name
OPSET = 11  # theirs
SIZE = 1024  # IS-Net's input square
STEM_CHANNELS = 64
POOLS_IN_DEPTH = 5  # max-pools between stage1 and stage6


@dataclass(frozen=True)
class Stage:
    """One RSU block: ``height`` levels (RSU7 .. RSU4), or RSU4F (``fused``: dilations, no
    pooling); channels in, in the middle, out."""

    name: str
    height: int
    in_ch: int
    mid_ch: int
    out_ch: int
    fused: bool = False


# ISNetDIS.__init__, in forward order
ENCODER = (
    Stage("stage1", 7, 64, 32, 64),
    Stage("stage2", 6, 64, 32, 128),
    Stage("stage3", 5, 128, 64, 256),
    Stage("stage4", 4, 256, 128, 512),
    Stage("stage5", 4, 512, 256, 512, fused=True),
    Stage("stage6", 4, 512, 256, 512, fused=True),
)
DECODER = (
    Stage("stage5d", 4, 1024, 256, 512, fused=True),
    Stage("stage4d", 4, 1024, 128, 256),
    Stage("stage3d", 5, 512, 64, 128),
    Stage("stage2d", 6, 256, 32, 64),
    Stage("stage1d", 7, 128, 16, 64),
)
RESIDUAL_SCALE = 1 / math.sqrt(2)  # on both branches of an RSU's hx1d + hxin


@dataclass
class Net:
    """A graph under construction: its nodes and weights, and its multiply-adds per image."""

    rng: np.random.Generator
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    weights: list[onnx.TensorProto] = field(default_factory=list)
    macs: int = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.weights.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs: object) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def conv(
        self,
        name: str,
        x: str,
        channels: tuple[int, int],
        size: int,
        *,
        dilation: int = 1,
        stride: int = 1,
        gain: float = 1.0,
    ) -> str:
        """3x3 conv with bias on a ``size``² map; ``gain`` scales He's weights."""
        cin, cout = channels
        std = gain * math.sqrt(2.0 / (cin * 9))
        weight = self.rng.normal(0.0, std, (cout, cin, 3, 3)).astype(np.float32)
        bias = self.rng.normal(0.0, 0.01, cout).astype(np.float32)
        self.macs += cout * cin * 9 * (size // stride) ** 2
        inputs = [x, self.const(f"{name}.weight", weight), self.const(f"{name}.bias", bias)]
        return self.node(
            "Conv",
            inputs,
            name,
            kernel_shape=[3, 3],
            pads=[dilation] * 4,
            dilations=[dilation] * 2,
            strides=[stride] * 2,
        )

    def rebnconv(
        self,
        name: str,
        x: str,
        channels: tuple[int, int],
        size: int,
        *,
        dilation: int = 1,
        gain: float = 1.0,
    ) -> str:
        """REBNCONV: conv (batch norm folded) + ReLU."""
        conv = self.conv(f"{name}.conv", x, channels, size, dilation=dilation, gain=gain)
        return self.node("Relu", [conv], name)

    def pool(self, name: str, x: str) -> str:
        return self.node("MaxPool", [x], name, kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)

    def up(self, name: str, x: str, factor: int) -> str:
        """Bilinear upsampling by ``factor`` (torch's F.upsample, align_corners False)."""
        roi = self.const(f"{name}.roi", np.zeros(0, np.float32))
        scales = self.const(f"{name}.scales", np.array([1, 1, factor, factor], np.float32))
        return self.node(
            "Resize",
            [x, roi, scales],
            name,
            mode="linear",
            coordinate_transformation_mode="pytorch_half_pixel",
        )

    def concat(self, name: str, *xs: str) -> str:
        return self.node("Concat", list(xs), name, axis=1)


def rsu(net: Net, stage: Stage, x: str, size: int) -> str:
    """One RSU block on ``x`` (``size``² pixels): U²-Net's residual U-block."""
    n, mid = stage.name, stage.mid_ch
    hxin = net.rebnconv(f"{n}.in", x, (stage.in_ch, stage.out_ch), size, gain=RESIDUAL_SCALE)
    levels = stage.height - 1  # encoder levels below the dilated top
    dilations = [2**i for i in range(levels)] if stage.fused else [1] * levels
    sizes = [size if stage.fused else size >> i for i in range(levels)]
    skips, h, cin = [], hxin, stage.out_ch
    for i in range(levels):
        h = net.rebnconv(f"{n}.{i + 1}", h, (cin, mid), sizes[i], dilation=dilations[i])
        skips.append(h)
        cin = mid
        if i < levels - 1 and not stage.fused:
            h = net.pool(f"{n}.pool{i + 1}", h)
    top = 2 * dilations[-1]
    d = net.rebnconv(f"{n}.{levels + 1}", h, (mid, mid), sizes[-1], dilation=top)
    for i in reversed(range(levels)):
        last = i == 0
        cout, gain = (stage.out_ch, RESIDUAL_SCALE) if last else (mid, 1.0)
        joined = net.concat(f"{n}.cat{i + 1}d", d, skips[i])
        d = net.rebnconv(
            f"{n}.{i + 1}d", joined, (2 * mid, cout), sizes[i], dilation=dilations[i], gain=gain
        )
        if not last and not stage.fused:
            d = net.up(f"{n}.up{i + 1}d", d, 2)
    return net.node("Add", [d, hxin], f"{n}.out")


def _encoder(net: Net, x: str, size: int) -> list[tuple[str, int]]:
    """The six encoder stages' outputs and their sizes, finest first."""
    found, h = [], x
    for index, stage in enumerate(ENCODER):
        h = rsu(net, stage, h, size)
        found.append((h, size))
        if index < len(ENCODER) - 1:
            h, size = net.pool(f"pool{index + 1}{index + 2}", h), size // 2
    return found


def _decoder(net: Net, encoded: list[tuple[str, int]]) -> list[tuple[str, int, int]]:
    """(map, size, channels) that each side output reads, finest first (hx1d .. hx5d, hx6)."""
    deepest, _ = encoded[-1]
    maps = [(deepest, encoded[-1][1], ENCODER[-1].out_ch)]
    d = deepest
    for stage, (skip, size) in zip(DECODER, reversed(encoded[:-1]), strict=True):
        joined = net.concat(f"{stage.name}.cat", net.up(f"{d}.up", d, 2), skip)
        d = rsu(net, stage, joined, size)
        maps.append((d, size, stage.out_ch))
    return maps[::-1]


def _sides(net: Net, maps: list[tuple[str, int, int]], size: int) -> list[str]:
    """Each map -> 3x3 conv to one channel -> upsampled to ``size`` -> sigmoid: d0..d5."""
    outputs = []
    for index, (x, at, channels) in enumerate(maps):
        logits = net.conv(f"side{index + 1}", x, (channels, 1), at, gain=math.sqrt(0.5))
        full = net.up(f"side{index + 1}.up", logits, size // at)
        outputs.append(net.node("Sigmoid", [full], f"d{index}"))
    return outputs


def isnet_sized(size: int = SIZE, seed: int = 0) -> tuple[onnx.ModelProto, int]:
    """ISNetDIS on float [1,3,size,size] -> six [1,1,size,size] maps; and its multiply-adds
    per image. ``size`` must be a multiple of 64 (every pooled map even)."""
    if size % (2 << POOLS_IN_DEPTH) != 0:
        raise ValueError(f"expected a size that is a multiple of 64, got {size}")
    net = Net(np.random.default_rng(seed))
    stem = net.conv("conv_in", INPUT, (3, STEM_CHANNELS), size, stride=2)
    maps = _decoder(net, _encoder(net, stem, size // 2))
    outputs = _sides(net, maps, size)
    graph = helper.make_graph(
        net.nodes,
        "isnet_sized",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, [1, 1, size, size]) for o in outputs],
        net.weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 6
    return model, net.macs


def parameter_count(model: onnx.ModelProto) -> int:
    """Learned numbers in the graph: conv weights and biases (Resize's constants aside)."""
    return sum(
        int(np.prod(t.dims))
        for t in model.graph.initializer
        if t.name.endswith((".weight", ".bias"))
    )
