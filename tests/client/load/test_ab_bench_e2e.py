"""`python -m client ab` and `bench` against the real embedded server, on real photos."""

from __future__ import annotations

import json

import pytest

from client.load.ab import VARIANT_HEADERS
from client.load.bench import HEADERS
from tests.cli_run import assert_one_line_error, run_cli
from tests.data import PHOTOS

MODEL = "u2netp_onnx"


@pytest.fixture(scope="module")
def uncached_server(both_models_server):
    """Timings are the model's only on a server without a response cache: the session's
    ``triton_server`` has one (tests/conftest.py), this one has none."""
    return both_models_server


def test_ab_same_model_agrees_perfectly(uncached_server) -> None:
    done = run_cli(
        "client",
        "ab",
        MODEL,
        MODEL,
        *PHOTOS[:2],
        "--url",
        uncached_server.grpc_url,
        "--requests",
        "2",
        "--concurrency",
        "2",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [v["model"] for v in report["variants"]] == [MODEL, MODEL]
    for variant in report["variants"]:
        assert variant["requests"] == 2 and variant["errors"] == 0
        assert 0 < variant["p50_ms"] <= variant["p95_ms"] <= variant["p99_ms"]
        assert variant["throughput_per_s"] > 0 and variant["avg_batch"] >= 1.0
        assert variant["server_compute_ms"] > 0
    agreement = report["agreement"]
    assert agreement["images"] == 2
    assert agreement["iou_mean"] == agreement["iou_worst"] == 1.0
    assert agreement["max_abs_diff"] == 0 and agreement["mean_abs_diff_mean"] == 0.0
    assert len(agreement["worst"]) == 2
    assert agreement["inside_floor"] == 2
    per_image = agreement["per_image"]
    assert all(p["inside_floor"] for p in per_image)
    assert any(p["floor_mean_abs_diff"] > 0 for p in per_image)  # A's floor was measured


def test_ab_table_and_skipped_images(uncached_server, tmp_path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photo")
    done = run_cli(
        "client",
        "ab",
        MODEL,
        "u2netp",
        PHOTOS[0],
        bad,
        "--url",
        uncached_server.grpc_url,
        "--requests",
        "2",
        "--concurrency",
        "1",
    )
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[1]
    assert [h.strip() for h in header.strip("|").split("|")] == VARIANT_HEADERS
    assert "IoU@0.5 worst" in done.stdout and "worst: astronaut.png (IoU 1.0000" in done.stdout
    assert (
        "floor IoU" in done.stdout and "1/1 images inside u2netp_onnx's noise floor" in done.stdout
    )
    assert f"skipped: {bad}" in done.stderr


def test_ab_unknown_model(triton_server) -> None:
    """B is checked before A is measured (a typo costs no run of A)."""
    done = run_cli(
        "client",
        "ab",
        MODEL,
        "u2net_trt",
        PHOTOS[0],
        "--url",
        triton_server.grpc_url,
        "--requests",
        "1",
    )
    assert_one_line_error(done, "u2net_trt", "ready models: u2netp_onnx")


# the sweep (concurrencies, windows) once: it is the same whatever is sent; each mode's sender
@pytest.mark.parametrize(
    ("mode", "concurrency", "windows"), [("server", "1,2", 2), ("e2e", "1", 1)]
)
def test_bench_sweep_json(uncached_server, mode: str, concurrency: str, windows: int) -> None:
    done = run_cli(
        "client",
        "bench",
        MODEL,
        "--url",
        uncached_server.grpc_url,
        "--concurrency",
        concurrency,
        "--requests",
        "2",
        "--windows",
        str(windows),
        "--mode",
        mode,
        "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["model"] == MODEL and report["mode"] == mode
    assert [r["concurrency"] for r in report["rows"]] == [int(c) for c in concurrency.split(",")]
    for row in report["rows"]:
        assert row["requests"] == 2 and row["errors"] == 0
        assert 1 <= row["windows"] <= windows
        assert row["throughput_per_s"] > 0 and row["p50_ms"] <= row["p99_ms"]
        assert row["avg_batch"] >= 1.0


def test_bench_csv(uncached_server) -> None:
    done = run_cli(
        "client",
        "bench",
        MODEL,
        "--url",
        uncached_server.grpc_url,
        "--concurrency",
        "1",
        "--requests",
        "2",
        "--windows",
        "1",
        "--csv",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split(",") == HEADERS and lines[1].startswith("1,2,0,")


def test_bench_on_a_caching_server_says_the_timings_are_not_the_models(triton_server) -> None:
    """The session's server has a response cache: the window repeats the warm-up's photos,
    so they come from the cache, and bench says so."""
    done = run_cli("client", "bench", MODEL, "--url", triton_server.grpc_url,
                   "--concurrency", "1", "--requests", "2", "--windows", "1", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{MODEL}: the server answered 2 of 2 requests from its response cache" in done.stderr


@pytest.mark.slow
def test_ab_u2net_against_u2netp(both_models_server) -> None:
    done = run_cli(
        "client",
        "ab",
        "u2net_onnx",
        "u2netp_onnx",
        *PHOTOS[:2],
        "--url",
        both_models_server.grpc_url,
        "--requests",
        "2",
        "--concurrency",
        "1",
        "--json",
        "--no-floor",  # u2net's floor: 20 more u2net runs, tested on u2netp above
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [v["model"] for v in report["variants"]] == ["u2net_onnx", "u2netp_onnx"]
    agreement = report["agreement"]
    assert agreement["images"] == 2
    # two different networks: similar masks, not identical ones
    assert 0.3 < agreement["iou_worst"] <= agreement["iou_mean"] < 1.0
    assert agreement["max_abs_diff"] > 0
    assert agreement["inside_floor"] is None and "floor_iou" not in agreement["per_image"][0]
    u2net, u2netp = report["variants"]
    assert u2net["server_compute_ms"] > u2netp["server_compute_ms"]


@pytest.mark.slow
def test_bench_u2net_e2e(both_models_server) -> None:
    done = run_cli(
        "client",
        "bench",
        "u2net",
        "--url",
        both_models_server.grpc_url,
        "--concurrency",
        "1",
        "--requests",
        "1",
        "--windows",
        "1",
        "--mode",
        "e2e",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["model"] == "u2net_onnx" and report["rows"][0]["errors"] == 0
