"""``client ab`` across model families without a server: each model is sent the photos at its
own input size, one size's inputs held at a time, and B's masks are compared on A's grid
(stand-in models whose mask is the input's red channel; the real server:
tests/convert/test_custom_e2e.py)."""

from __future__ import annotations

import threading
import weakref
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from client.load import ab
from client.load.ab import ABReport, VariantRun, measure_both, on_grid_of, same_images
from client.load.loadgen import Window
from client.statistics import ServerStats
from tests.data import PHOTOS
from u2net.agreement import compare_masks
from u2net.contract import FAMILY_CONTRACTS, ISNET_FAMILY, U2NET_FAMILY, ServingContract
from u2net.errors import ServingError
from u2net.image.io import DEFAULT_MAX_PIXELS, open_rgb
from u2net.image.render import mask_on_grid

U2NET, ISNET = FAMILY_CONTRACTS[U2NET_FAMILY], FAMILY_CONTRACTS[ISNET_FAMILY]
IMAGES = list(PHOTOS[:2])


class RedChannel:
    """A served model of ``contract``'s size whose mask is its input's red channel; it counts
    what it answered (Triton's statistics) and the input sizes it was sent."""

    def __init__(self, name: str, contract: ServingContract) -> None:
        self.name, self.contract = name, contract
        self.answered, self.sizes = 0, set()
        self.lock = threading.Lock()

    def resolve(self) -> str:
        return self.name

    def statistics(self) -> dict:
        counts = {"inference_count": self.answered, "execution_count": self.answered}
        return {"model_stats": [{"name": self.name, **counts}]}

    def infer(self, batch: np.ndarray) -> np.ndarray:
        with self.lock:
            self.answered += len(batch)
            self.sizes.add(batch.shape[1:3])
        return batch[..., 0].copy()


def red_mask(photo: Path, contract: ServingContract) -> np.ndarray:
    """The stand-in's mask computed directly: the photo stretched with LANCZOS, its red."""
    size = (contract.size, contract.size)
    rgb = open_rgb(photo, DEFAULT_MAX_PIXELS)
    return np.asarray(rgb.resize(size, Image.Resampling.LANCZOS))[..., 0]


def expected(photo: Path, a: ServingContract, b: ServingContract) -> object:
    """B's mask against A's, with B's put on A's grid by Pillow's LANCZOS directly."""
    mask_a, mask_b = red_mask(photo, a), red_mask(photo, b)
    grid = (a.size, a.size)
    on_a = np.asarray(Image.fromarray(mask_b).resize(grid, Image.Resampling.LANCZOS))
    return compare_masks(mask_a, on_a, str(photo))


def loads_watched(monkeypatch: pytest.MonkeyPatch) -> list[list[bool]]:
    """Each ``load_inputs`` call: whether the batches loaded before it were still alive."""
    seen: list[list[bool]] = []
    refs: list[weakref.ref] = []
    load = ab.load_inputs

    def watched(*args: object) -> tuple:
        seen.append([ref() is not None for ref in refs])
        names, batch, skipped = load(*args)
        refs.append(weakref.ref(batch))
        return names, batch, skipped

    monkeypatch.setattr(ab, "load_inputs", watched)
    return seen


PAIRS = [(U2NET, ISNET), (ISNET, U2NET), (U2NET, U2NET)]


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"{a.size}-against-{b.size}" for a, b in PAIRS])
def test_each_model_gets_its_own_size_and_b_is_compared_on_as_grid(monkeypatch, a, b) -> None:
    loads = loads_watched(monkeypatch)
    models = [RedChannel("a", a), RedChannel("b", b)]
    report = measure_both(models, IMAGES, concurrency=1, requests=2, max_pixels=DEFAULT_MAX_PIXELS,
                          floor=True)  # fmt: skip
    assert [m.sizes for m in models] == [{(a.size, a.size)}, {(b.size, b.size)}]
    assert report.agreements == [expected(p, a, b) for p in IMAGES]
    assert [f.name for f in report.floors] == [str(p) for p in IMAGES]  # A's, at A's size
    two_sizes = a.size != b.size
    assert loads == ([[], [False]] if two_sizes else [[]])  # A's inputs gone before B's
    assert (report.grid, report.b_shape) == ((a.size, a.size), (b.size, b.size))
    assert (report.agreements[0].mean_abs_diff > 0) == two_sizes  # A's and B's inputs differ


def run(model: str) -> VariantRun:
    return VariantRun(model, Window([0.01], [], 0.01), ServerStats(1, 1, 0.0, 1.0))


def report_of(grid: tuple[int, int], b_shape: tuple[int, int]) -> ABReport:
    agreement = compare_masks(np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8), "x.png")
    return ABReport(run("a"), run("b"), [agreement], [], 1, None, grid, b_shape)


AGREEMENT_KEYS = [
    "images", "iou_mean", "iou_worst", "mean_abs_diff_mean", "max_abs_diff", "worst",
    "inside_floor", "per_image",
]  # fmt: skip


@pytest.mark.parametrize("size", [320, 1024])
def test_a_report_of_one_size_says_what_it_always_said(size: int) -> None:
    report = report_of((size, size), (size, size))
    assert list(report.as_dict()["agreement"]) == AGREEMENT_KEYS
    assert report.compared_at() == f"{size}x{size}"


@pytest.mark.parametrize(
    ("grid", "b_shape", "text"),
    [
        ((320, 320), (1024, 1024), "320x320, B's 1024x1024 resized with LANCZOS"),
        ((1024, 1024), (320, 320), "1024x1024, B's 320x320 resized with LANCZOS"),
        ((200, 300), (1024, 1024), "300x200, B's 1024x1024 resized with LANCZOS"),
    ],
)
def test_a_report_of_two_sizes_says_where_the_masks_were_compared(grid, b_shape, text) -> None:
    report = report_of(grid, b_shape)
    assert report.compared_at() == text
    assert report.as_dict()["agreement"]["compared_at"] == {
        "mask_size": list(grid[::-1]), "b_mask_size": list(b_shape[::-1]), "resize": "LANCZOS",
    }  # fmt: skip


def test_masks_of_a_models_size_are_left_as_they_are() -> None:
    masks = np.random.default_rng(0).integers(0, 256, (2, 320, 320), dtype=np.uint8)
    assert on_grid_of(masks, masks) is masks


def test_masks_of_another_size_go_onto_the_references_grid_one_by_one() -> None:
    rng = np.random.default_rng(1)
    reference = rng.integers(0, 256, (2, 32, 32), dtype=np.uint8)
    masks = rng.integers(0, 256, (2, 100, 100), dtype=np.uint8)
    found = on_grid_of(reference, masks)
    assert found.shape == (2, 32, 32)
    for got, mask in zip(found, masks, strict=True):
        np.testing.assert_array_equal(got, mask_on_grid(mask, (32, 32)))


def test_b_must_read_the_images_a_read() -> None:
    inputs = ab.Inputs(1024, ["a.png"], np.zeros((1, 1, 1, 3), np.uint8), [])
    same_images(["a.png"], inputs)
    with pytest.raises(ServingError, match="expected the 2 images A read to read at 1024² too"):
        same_images(["a.png", "b.png"], inputs)
