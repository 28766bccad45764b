"""Triton's command line as data, and what its log lines become: the configuration each host
gets, the admin key kept out of logs, and Triton's warnings shown without ``-v``."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import pytest

from server import command
from server.process import TritonProcess
from u2net.repository.layout import CPU_CONFIG_NAME


@pytest.mark.parametrize(
    ("requested", "cuda_offered", "expected"),
    [
        ("auto", False, CPU_CONFIG_NAME),
        ("auto", True, None),  # a GPU host: config.pbtxt, batching for the GPU
        ("default", False, None),
        ("cpu", True, CPU_CONFIG_NAME),
        ("mine", False, "mine"),
    ],
)
def test_choose_config(requested: str, cuda_offered: bool, expected: str | None) -> None:
    assert command.choose_config(requested, cuda_offered) == expected


def _settings(**kwargs: object) -> command.ServeSettings:
    ports = {"grpc_port": 1, "http_port": 2, "metrics_port": 3}
    return command.ServeSettings(host="127.0.0.1", **ports, **kwargs)  # type: ignore[arg-type]


def test_shown_hides_the_admin_key() -> None:
    settings = _settings(model_control=True, admin_key="s3cret-key")
    argv = command.triton_command(sys.executable, settings, ".", ".", ["m"])  # type: ignore[arg-type]
    assert any("s3cret-key" in a for a in argv)  # Triton needs it...
    assert "s3cret-key" not in command.shown(argv, settings)  # ...the log does not
    assert f"{command.ADMIN_HEADER}=***" in command.shown(argv, settings)


@pytest.mark.parametrize("size", [0, 64 << 20])
def test_a_response_cache_only_when_given_a_size(size: int) -> None:
    caches = Path("/triton/caches")
    argv = command.triton_command(
        sys.executable, _settings(response_cache_bytes=size), ".", ".", ["m"], caches=caches
    )  # type: ignore[arg-type]
    cache_flags = [a for a in argv if a.startswith("--cache-")]
    expected = [f"--cache-config=local,size={size}", f"--cache-directory={caches}"]
    assert cache_flags == (expected if size else [])


def test_tritons_warnings_are_shown_without_verbose(caplog: pytest.LogCaptureFixture) -> None:
    lines = [
        "I1202 01:00:00.000000 42 server.cc:1] started",
        "W1202 01:00:00.000001 42 pb_stub.cc:2] u2net_onnx: GPU instance runs on the CPU",
    ]
    script = "import sys; print(*sys.argv[1:], sep='\\n')"
    with caplog.at_level(logging.INFO, logger="server.process"):
        triton = TritonProcess([sys.executable, "-c", script, *lines], {}, echo=False)
        deadline = time.monotonic() + 30
        while triton.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        triton.stop()
    shown = [(r.levelno, r.getMessage()) for r in caplog.records if "triton:" in r.getMessage()]
    assert shown == [(logging.WARNING, "triton: u2net_onnx: GPU instance runs on the CPU")]
