"""What this project measured, for the probe to be compared with (README, "Measurements").

Served latency at concurrency 1 (median ms per image), ``python bench/served_vs_plain.py`` and
``--model u2net_onnx`` on the 2-core CPU machine; a test checks the README still shows them.
No GPU number exists: the project has never run on a GPU. A GPU instance that is not clearly
faster than this CPU is treated as not doing the work.
"""

from __future__ import annotations

from u2net.catalogue import base_name

REFERENCE_HOST = "2-core AMD EPYC CPU (AVX-512)"
CPU_MS_PER_IMAGE: dict[str, float] = {"u2net": 649.9, "u2netp": 277.7}
# A GPU instance slower than this fraction of the CPU reference is running at CPU speed.
GPU_SUSPECT_FRACTION = 0.5


def cpu_reference_ms(served_name: str) -> float | None:
    """The CPU reference of a served name's network (``u2net_trt`` and ``u2net_onnx`` alike)."""
    return CPU_MS_PER_IMAGE.get(base_name(served_name))
