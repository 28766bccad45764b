"""Which weight bits a CPU gets: 7 on x86 without VNNI (ONNX Runtime's VPMADDUBSW kernels
saturate 8-bit weights), 8 elsewhere; read from /proc/cpuinfo's text."""

from __future__ import annotations

import pytest

from convert.quantize.cpu import cpuinfo_field, weight_bits_for

ZEN3 = "fpu sse4_2 avx avx2 fma bmi2"
ZEN4 = f"{ZEN3} avx512f avx512bw avx512_vnni"
ALDER_LAKE = f"{ZEN3} avx_vnni"
SKYLAKE_X = f"{ZEN3} avx512f avx512bw"  # AVX-512 without VNNI: still VPMADDUBSW


@pytest.mark.parametrize(
    ("machine", "flags", "bits"),
    [
        ("x86_64", ZEN3, 7),
        ("x86_64", SKYLAKE_X, 7),
        ("x86_64", ZEN4, 8),
        ("AMD64", ALDER_LAKE, 8),
        ("x86_64", "", 7),  # flags unknown: coarser weights, never saturated ones
        ("aarch64", "fp asimd asimddp", 8),
    ],
    ids=["zen3", "avx512-no-vnni", "avx512-vnni", "avx-vnni", "unknown-x86", "arm"],
)
def test_weight_bits_follow_vnni_on_x86(machine: str, flags: str, bits: int) -> None:
    assert weight_bits_for(machine, frozenset(flags.split())) == bits


def test_cpuinfo_fields_are_the_first_processors() -> None:
    text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu avx2\n\nflags : other\n"
    assert cpuinfo_field(text, "model name") == "AMD EPYC 7B13"
    assert cpuinfo_field(text, "flags") == "fpu avx2"
    assert cpuinfo_field(text, "microcode") == ""
