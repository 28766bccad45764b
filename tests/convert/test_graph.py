"""The serving graph against rembg's recipe on the original model, on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from tests import rembg_reference as ref
from tests.data import MODEL_PARAMS, PHOTO_IDS, PHOTOS, cpu_session, original_model, staged_model
from u2net.contract import CONTRACT


@pytest.fixture(scope="module", params=MODEL_PARAMS)
def sessions(request: pytest.FixtureRequest) -> tuple[Path, ort.InferenceSession]:
    """rembg's original file (its masks: tests/rembg_reference.py) and the serving graph."""
    name = request.param
    original = original_model(name)
    serving = cpu_session(staged_model(f"{name}_onnx"))
    return original, serving


@pytest.fixture(scope="module")
def u2netp_serving() -> ort.InferenceSession:
    """The batch rules are the serving graph's own (the same wrapper around either body): the
    small model shows them."""
    return cpu_session(staged_model("u2netp_onnx"))


def _input(img: Image.Image) -> np.ndarray:
    rgb = img.convert("RGB").resize((CONTRACT.size, CONTRACT.size), Image.Resampling.LANCZOS)
    return np.asarray(rgb, dtype=np.uint8)


def test_serving_graph_io_follows_contract(sessions: tuple) -> None:
    _, serving = sessions
    (inp,), (out,) = serving.get_inputs(), serving.get_outputs()
    assert (inp.name, inp.type, inp.shape[1:]) == (
        CONTRACT.input_name,
        "tensor(uint8)",
        list(CONTRACT.input_dims),
    )
    assert (out.name, out.type, out.shape[1:]) == (
        CONTRACT.output_name,
        "tensor(uint8)",
        list(CONTRACT.output_dims),
    )
    assert isinstance(inp.shape[0], str), "batch dimension must be dynamic"


@pytest.mark.parametrize("photo", PHOTOS, ids=PHOTO_IDS)
def test_mask_matches_rembg_within_one_grey_level(sessions: tuple, photo) -> None:
    original, serving = sessions
    img = Image.open(photo)
    expected = np.asarray(ref.photo_mask(original, photo), dtype=np.int16)
    mask_320 = serving.run(None, {CONTRACT.input_name: _input(img)[None]})[0][0]
    got = Image.fromarray(mask_320, mode="L").resize(img.size, Image.Resampling.LANCZOS)
    diff = np.abs(np.asarray(got, dtype=np.int16) - expected)
    assert diff.max() <= 1, f"max |Δ| {diff.max()} at {np.unravel_index(diff.argmax(), diff.shape)}"
    assert expected.max() > 200 and expected.min() < 50, "reference mask should not be flat"


def test_batch_of_four_equals_four_single_runs(u2netp_serving: ort.InferenceSession) -> None:
    serving = u2netp_serving
    batch = np.stack([_input(Image.open(p)) for p in PHOTOS[:4]])
    together = serving.run(None, {CONTRACT.input_name: batch})[0]
    alone = np.concatenate(
        [serving.run(None, {CONTRACT.input_name: batch[i : i + 1]})[0] for i in range(4)]
    )
    assert together.shape == (4, *CONTRACT.output_dims)
    np.testing.assert_array_equal(together, alone)


def test_each_image_is_normalised_on_its_own(u2netp_serving: ort.InferenceSession) -> None:
    """A dark copy next to a bright photo must give the dark copy's own mask."""
    serving = u2netp_serving
    bright = _input(Image.open(PHOTOS[0]))
    dark = (bright // 4).astype(np.uint8)
    batch = serving.run(None, {CONTRACT.input_name: np.stack([bright, dark])})[0]
    dark_alone = serving.run(None, {CONTRACT.input_name: dark[None]})[0][0]
    np.testing.assert_array_equal(batch[1], dark_alone)
    assert batch[1].min() == 0 and batch[1].max() == 255
