"""Images in and out: open and decode files and bytes into the upright 8-bit RGB picture
(u2net.image.decode: EXIF orientation, first frame, any mode), within a pixel limit read from
the header; background photos' bytes; encode a result with its ICC profile
(u2net.image.encoders). No network, no files written.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from u2net.errors import InvalidImage, TooManyPixels
from u2net.image import encoders
from u2net.image.decode import ORIENTATION, register_heif, upright_rgb
from u2net.options import OutputOptions

ImageSource = str | Path | bytes | Image.Image

DEFAULT_MAX_PIXELS = 100_000_000
# The widest side each encoder can write (libwebp's and libjpeg's own limits); PNG has none
# that a pixel budget allows.
MAX_SIDE = {"webp": 16383, "jpg": 65500}
BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")  # the size in Pillow's DecompressionBombError
TURNED = (5, 6, 7, 8)  # EXIF orientations that swap width and height
CACHED_BACKGROUND_PIXELS = 16_000_000  # a background kept for the next photo (48 MB as RGB)
_last_background: list = [b"", None]  # the last such background's bytes and picture


EMPTY_FILE = "empty file: expected an image, got 0 bytes"


def _opener(data: bytes | Path) -> Callable[[], Image.Image]:
    return lambda: Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)


def open_rgb(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode any image rembg accepts, and HEIC/HEIF, into the upright 8-bit RGB picture a
    person would see, at its full size (see :mod:`u2net.image.decode`).

    The pixel limit is checked from the header, before any pixel is decoded.
    """
    image, reopen = _opened(source, max_pixels)
    try:
        return upright_rgb(image, reopen)
    except (OSError, SyntaxError, ValueError) as e:
        raise InvalidImage(f"cannot decode image (truncated or corrupt): {e}") from e


def _opened(
    source: ImageSource, max_pixels: int
) -> tuple[Image.Image, Callable[[], Image.Image] | None]:
    """The image opened (its header read, no pixel decoded) and within ``max_pixels``, and
    how to open it again (a 16-bit colour file is read twice); InvalidImage otherwise."""
    reopen = None
    if isinstance(source, Image.Image):
        image = source
    else:
        data: bytes | Path = source if isinstance(source, bytes) else Path(source)
        if isinstance(data, bytes) and not data:
            raise InvalidImage("empty input: expected image bytes, got 0 bytes")
        if isinstance(data, Path) and data.is_file() and data.stat().st_size == 0:
            raise InvalidImage(EMPTY_FILE)
        register_heif()
        reopen = _opener(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = reopen()
        except UnidentifiedImageError as e:  # an OSError too
            raise InvalidImage("not an image Pillow can read (unsupported or not an image)") from e
        except Image.DecompressionBombError as e:
            raise too_many_pixels(e, max_pixels) from e
        except OSError as e:
            raise unreadable(e) from e
    width, height = image.size
    if width * height > max_pixels:
        raise TooManyPixels(
            f"expected at most {max_pixels:,} pixels, got {width}x{height} = {width * height:,}"
        )
    return image, reopen


def unreadable(error: OSError) -> InvalidImage:
    """A photo that could not be read, in one line: the same words whoever reads it (the
    client's decoder, or the client reading bytes for ``cutout``)."""
    if isinstance(error, FileNotFoundError):
        return InvalidImage("no such file")
    if isinstance(error, IsADirectoryError):
        return InvalidImage("expected an image file, got a directory")
    return InvalidImage(f"cannot read image: {error.strerror or error}")


def read_photo(path: Path) -> bytes:
    """A photo file's bytes, as sent to ``cutout``; InvalidImage when it cannot be read or is
    empty (as :func:`open_rgb` says it)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise unreadable(e) from e
    if not data:
        raise InvalidImage(EMPTY_FILE)
    return data


def too_many_pixels(error: Image.DecompressionBombError, max_pixels: int) -> TooManyPixels:
    """Pillow's own guard (twice Image.MAX_IMAGE_PIXELS) fired first, from the header too: said
    as our limit is (the lower of the two), without Pillow's wording, which names its own."""
    pillow = Image.MAX_IMAGE_PIXELS
    limit = min(max_pixels, 2 * pillow) if pillow else max_pixels
    found = BOMB_PIXELS.search(str(error))
    got = f"{int(found.group(1)):,}" if found else f"more than {limit:,}"
    return TooManyPixels(f"expected at most {limit:,} pixels, got {got}")


def background(data: bytes) -> Image.Image:
    """A background photo's bytes -> its RGB picture (decoded as any photo); the last one
    up to ``CACHED_BACKGROUND_PIXELS`` is kept (a batch shares one background), a larger
    one is decoded for each use instead of held between requests."""
    if data == _last_background[0]:
        return _last_background[1]
    try:
        picture = open_rgb(data)
    except InvalidImage as e:
        raise InvalidImage(f"background image: {e}") from e
    if picture.width * picture.height <= CACHED_BACKGROUND_PIXELS:
        _last_background[:] = [data, picture]
    return picture


def check_background(data: bytes, max_pixels: int) -> None:
    """InvalidImage unless a background photo's header says it is an image within
    ``max_pixels`` (the photo's own limit): checked before the network runs, no pixel decoded."""
    try:
        _opened(data, max_pixels)[0].close()
    except InvalidImage as e:
        raise InvalidImage(f"background image: {e}") from e


def check_encodable(size: tuple[int, int], fmt: str) -> None:
    """Refuse, in one line, a result the chosen encoder cannot write."""
    limit = MAX_SIDE.get(fmt)
    if limit is not None and max(size) > limit:
        width, height = size
        raise InvalidImage(
            f"format {fmt}: expected at most {limit} px per side, got {width}x{height};"
            " ask for png, or a smaller result"
        )


def encode(image: Image.Image, options: OutputOptions) -> bytes:
    """The picture in the asked format, with the ICC profile in its ``info`` (PNG, WebP, JPEG)."""
    check_encodable(image.size, options.fmt)
    return encoders.encode(image, options.fmt, options.png_compression)


def header_size(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Width and height of the upright picture (EXIF orientation applied, as decoding does),
    read from the image's header alone (no pixel is decoded), within ``max_pixels``."""
    image, _ = _opened(data, max_pixels)
    with image:
        width, height = image.size
        turned = image.getexif().get(ORIENTATION, 1) in TURNED
    return (height, width) if turned else (width, height)
