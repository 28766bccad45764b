"""No secret on any command line, and the admin protocols off (issue: `ps` showed the key).

By default the server links only the selected models into a temporary repository served with
``--model-control-mode=none`` and restricts every admin protocol to a header value that no
client can send. ``--allow-model-control`` opens the repository API to holders of a key read
from the environment or a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from server.command import ADMIN_HEADER, ADMIN_KEY_ENV, OFF_HEADER, UNSENDABLE
from server.embedded import RunningServer, start
from tests.cli_run import assert_one_line_error, run_cli
from tests.server.http_admin import over_http
from tests.servers import retire

MODEL = "u2netp_onnx"
GRPC_PREFIX = "triton-grpc-protocol-"  # Triton's prefix for restricted-protocol headers
RANDOM_TOKEN = re.compile(r"[0-9a-f]{24,}")


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[-1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    family, frontier = {root}, {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - family
        family |= frontier
    return sorted(family)


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


def test_no_command_line_holds_a_secret(triton_server: RunningServer) -> None:
    argvs = [_argv(pid) for pid in _tree(triton_server.process.pid)]
    triton = next(a for a in argvs if a and a[0].endswith("tritonserver"))
    restricted = [a for a in triton if "restricted" in a]
    assert restricted, triton  # the admin protocols are restricted...
    assert all(a.endswith(f":{OFF_HEADER}={UNSENDABLE}") for a in restricted)  # ...to no one
    assert "--model-control-mode=none" in triton
    assert not [arg for argv in argvs for arg in argv if RANDOM_TOKEN.search(arg)]


def _calls(server: RunningServer) -> dict[str, Callable[[], object]]:
    g = grpcclient.InferenceServerClient(server.grpc_url)
    guess = {f"{GRPC_PREFIX}{OFF_HEADER}": "no"}  # the best a client can send
    return {
        "grpc-unload": lambda: g.unload_model(MODEL, headers=guess),
        "grpc-index": lambda: g.get_model_repository_index(headers=guess),
        "grpc-log-settings": lambda: g.update_log_settings({"log_verbose_level": 1}),
        "grpc-trace-settings": lambda: g.update_trace_settings(settings={"trace_rate": "1"}),
        "grpc-shm-register": lambda: g.register_system_shared_memory("x", "/x", 64),
        "http-unload": lambda: over_http(
            server.http_url, lambda h: h.unload_model(MODEL, headers={OFF_HEADER: "no"})
        ),
        "http-log-settings": lambda: over_http(
            server.http_url, lambda h: h.update_log_settings({"log_verbose_level": 1})
        ),
    }


@pytest.mark.parametrize(
    "call",
    [
        "grpc-unload",
        "grpc-index",
        "grpc-log-settings",
        "grpc-trace-settings",
        "grpc-shm-register",
        "http-unload",
        "http-log-settings",
    ],
)
def test_admin_protocols_are_off(triton_server: RunningServer, call: str) -> None:
    with pytest.raises(InferenceServerException, match=r"restricted|not allowed"):
        _calls(triton_server)[call]()
    assert grpcclient.InferenceServerClient(triton_server.grpc_url).is_model_ready(MODEL)


@pytest.fixture(scope="module")
def controlled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    """A second server with --allow-model-control and a key from the environment."""
    key = "k" * 12 + "-test-key"
    env = {**os.environ, ADMIN_KEY_ENV: key}
    server = start(["--models", MODEL, "--allow-model-control", "-v"], env=env, timeout=120)
    try:
        yield server, key
    finally:
        retire(server)


def test_model_control_needs_the_key(controlled: tuple[RunningServer, str]) -> None:
    server, key = controlled
    client = grpcclient.InferenceServerClient(server.grpc_url)
    with pytest.raises(InferenceServerException, match="restricted"):
        client.unload_model(MODEL)
    with pytest.raises(InferenceServerException, match="restricted"):
        client.unload_model(MODEL, headers={f"{GRPC_PREFIX}{ADMIN_HEADER}": "wrong"})
    client.unload_model(MODEL, headers={f"{GRPC_PREFIX}{ADMIN_HEADER}": key})
    assert not client.is_model_ready(MODEL)
    over_http(server.http_url, lambda h: h.load_model(MODEL, headers={ADMIN_HEADER: key}))
    assert client.is_model_ready(MODEL)
    with pytest.raises(InferenceServerException, match="restricted"):  # the rest stays off
        client.update_log_settings({"log_verbose_level": 1})


def test_the_key_is_not_in_the_verbose_log(controlled: tuple[RunningServer, str]) -> None:
    server, key = controlled
    log = "\n".join(server.stderr_lines)
    assert "starting: " in log and "--model-control-mode=explicit" in log  # the command is there
    assert key not in log and f"{ADMIN_HEADER}=***" in log


def test_a_bad_admin_key_file_is_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "key"
    empty.write_text("")
    done = run_cli("server", "--allow-model-control", "--admin-key-file", empty, timeout=60)
    assert_one_line_error(done, "--admin-key-file", "expected a file with the key")
