"""Real sample photos from an installed package (scikit-image's data folder); never committed."""

from __future__ import annotations

from pathlib import Path

from client.errors import ServingError

SAMPLE_NAMES: tuple[str, ...] = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
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
