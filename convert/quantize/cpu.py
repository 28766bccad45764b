"""How many bits this CPU's int8 convolutions can give the weights, and what identifies the
machine a certification was measured on. The rules are pure; ``*_here`` read the machine.

ONNX Runtime's x86 int8 convolutions without VNNI multiply uint8 activations by int8 weights
with VPMADDUBSW, which adds each pair of products into an int16 and saturates there: with
8-bit weights a pair can overflow it (2 x 255 x 127 > 32767) and the mask moves far outside
fp32's noise floor; with 7-bit weights (``reduce_range``) it cannot (2 x 255 x 63 < 32767).
VNNI (AVX-512 VNNI, AVX-VNNI) adds into int32, and ARM's dot products do not saturate either:
there the weights keep 8 bits. Measured: docs/int8.md, "On CPUs without VNNI".
"""

from __future__ import annotations

import platform
from functools import cache
from importlib import metadata
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni"})
X86_MACHINES = frozenset({"x86_64", "amd64", "i386", "i686"})
FULL_BITS = 8
REDUCED_BITS = 7
RUNTIMES = ("onnxruntime", "onnxruntime-gpu")  # whichever ONNX Runtime is installed


def cpuinfo_field(cpuinfo: str, name: str) -> str:
    """The first ``name : value`` of /proc/cpuinfo's text ("" where there is none)."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return ""


def weight_bits_for(machine: str, flags: frozenset[str]) -> int:
    """8 bits, or 7 on x86 without VNNI (where ONNX Runtime's kernels saturate); an x86 whose
    flags are unknown gets 7: slightly coarser weights, never saturated ones."""
    if machine.lower() in X86_MACHINES and not flags & VNNI_FLAGS:
        return REDUCED_BITS
    return FULL_BITS


def _cpuinfo() -> str:
    try:
        return CPUINFO.read_text()
    except OSError:  # not Linux: no flags known
        return ""


@cache
def weight_bits_here() -> int:
    flags = frozenset(cpuinfo_field(_cpuinfo(), "flags").split())
    return weight_bits_for(platform.machine(), flags)


def _runtime_version() -> str:
    for name in RUNTIMES:
        try:
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return "no onnxruntime"


@cache
def machine_here() -> str:
    """What a certification's verdict holds for: CPU model, architecture, weight bits and
    ONNX Runtime (another of any of them may land on the other side of the bar)."""
    model = cpuinfo_field(_cpuinfo(), "model name") or platform.processor() or "unknown CPU"
    return f"{model}, {platform.machine()}, {weight_bits_here()}-bit weights, {_runtime_version()}"
