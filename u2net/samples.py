"""Real sample photos from an installed package (scikit-image's data folder); never committed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from u2net.contract import CONTRACT, ServingContract
from u2net.errors import ServingError
from u2net.image.io import open_rgb
from u2net.image.render import to_model_input

PROBE_NAME = "astronaut.png"  # 512x512 RGB: the one photo of quick probes and benchmarks
SAMPLE_NAMES: tuple[str, ...] = (
    PROBE_NAME,
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
)

# int8 quantization (convert/quantize/, docs/int8.md). One split of scikit-image's photos:
# calibration sets the activation ranges (textures and near-blank masks included: they widen
# the ranges); the search scores agreement on the calibration photos that have a subject;
# held-out images are never seen before certification: every other image of the folder Pillow
# reads (multipage_rgb.tif it does not). motorcycle_right is the stereo twin of motorcycle_left
# (a different view of the same scene).
SEARCH_PHOTOS: tuple[str, ...] = (
    PROBE_NAME,
    "chelsea.png",
    "coffee.png",
    "motorcycle_left.png",
    "horse.png",
    "retina.jpg",
    "logo.png",
)
CALIBRATION_PHOTOS: tuple[str, ...] = (
    *SEARCH_PHOTOS,
    "color.png",
    "cell.png",
    "ihc.png",
    "page.png",
    "hubble_deep_field.jpg",
    "brick.png",
    "grass.png",
    "gravel.png",
    "moon.png",
    "text.png",
)
HELD_OUT_PHOTOS: tuple[str, ...] = (
    "rocket.jpg",
    "motorcycle_right.png",
    "camera.png",
    "coins.png",
    "clock_motion.png",
    "microaneurysms.png",
    "phantom.png",
    "chessboard_GRAY.png",
    "chessboard_RGB.png",
    "no_time_for_that_tiny.gif",
)


def sample_dir() -> Path:
    try:
        import skimage
    except ImportError as e:
        raise ServingError(
            "sample photos come from scikit-image's data folder; run `pip install scikit-image`"
        ) from e
    return Path(skimage.__file__).parent / "data"


def sample_photos(names: tuple[str, ...] = SAMPLE_NAMES) -> list[Path]:
    folder = sample_dir()
    return [folder / name for name in names]


def sample_inputs(
    names: tuple[str, ...] = SAMPLE_NAMES, contract: ServingContract = CONTRACT
) -> tuple[list[str], np.ndarray]:
    """The sample photos as the contract's input (the client's own pre-processing)."""
    photos = sample_photos(names)
    batch = np.stack([to_model_input(open_rgb(p), contract) for p in photos])
    return [p.name for p in photos], batch


def sample_rgb(names: tuple[str, ...]) -> list[np.ndarray]:
    """The sample photos at full size, decoded as the client decodes them (uint8 [H,W,3])."""
    return [np.asarray(open_rgb(p)) for p in sample_photos(names)]


def varied_inputs(count: int, contract: ServingContract = CONTRACT) -> np.ndarray:
    """``count`` different model inputs, for checking that masks come back to the right
    image: the sample photos, then their mirror images, upside-down and both."""
    _names, photos = sample_inputs(contract=contract)
    flips = [photos, photos[:, :, ::-1], photos[:, ::-1], photos[:, ::-1, ::-1]]
    variants = np.concatenate(flips)
    if not 1 <= count <= len(variants):
        raise ValueError(f"expected a count within 1..{len(variants)}, got {count}")
    return np.ascontiguousarray(variants[:count])
