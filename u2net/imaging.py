"""Pure image work: bytes/paths/PIL in, numpy/PIL/bytes out. No network, no files written.

Decode (EXIF orientation, first frame, any mode -> 8-bit RGB: u2net.decode), resize to the
model's input, resize the mask back, compose (:mod:`u2net.compositing`), encode.
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from u2net import compositing, encoders, scene
from u2net.contract import CONTRACT, ServingContract
from u2net.decode import ICC, ORIENTATION, register_heif, upright_rgb
from u2net.errors import InvalidImage, TooManyPixels
from u2net.framing import Box, crop_to_box, foreground_box, limit_pixels
from u2net.matting import MattingOptions, matte
from u2net.options import OutputOptions
from u2net.postprocess import post_process_mask

log = logging.getLogger(__name__)

ImageSource = str | Path | bytes | Image.Image

DEFAULT_MAX_PIXELS = 100_000_000
# The widest side each encoder can write (libwebp's and libjpeg's own limits); PNG has none
# that a pixel budget allows.
MAX_SIDE = {"webp": 16383, "jpg": 65500}
BOMB_PIXELS = re.compile(r"\((\d+) pixels\)")  # the size in Pillow's DecompressionBombError
TURNED = (5, 6, 7, 8)  # EXIF orientations that swap width and height
CACHED_BACKGROUND_PIXELS = 16_000_000  # a background kept for the next photo (48 MB as RGB)
_last_background: list = [b"", None]  # the last such background's bytes and picture


def _name(source: ImageSource) -> str:
    return str(source) if isinstance(source, (str, Path)) else type(source).__name__


def _opener(data: bytes | Path) -> Callable[[], Image.Image]:
    return lambda: Image.open(io.BytesIO(data) if isinstance(data, bytes) else data)


def open_rgb(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode any image rembg accepts, and HEIC/HEIF, into the upright 8-bit RGB picture a
    person would see, at its full size (see :mod:`u2net.decode`).

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
            raise InvalidImage("empty file: expected an image, got 0 bytes")
        register_heif()
        reopen = _opener(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = reopen()
        except FileNotFoundError as e:
            raise InvalidImage("no such file") from e
        except IsADirectoryError as e:
            raise InvalidImage("expected an image file, got a directory") from e
        except UnidentifiedImageError as e:
            raise InvalidImage("not an image Pillow can read (unsupported or not an image)") from e
        except Image.DecompressionBombError as e:
            raise too_many_pixels(e, max_pixels) from e
        except OSError as e:
            raise InvalidImage(f"cannot read image: {e}") from e
    width, height = image.size
    if width * height > max_pixels:
        raise TooManyPixels(
            f"expected at most {max_pixels:,} pixels, got {width}x{height} = {width * height:,}"
        )
    return image, reopen


def too_many_pixels(error: Image.DecompressionBombError, max_pixels: int) -> TooManyPixels:
    """Pillow's own guard (twice Image.MAX_IMAGE_PIXELS) fired first, from the header too: said
    as our limit is (the lower of the two), without Pillow's wording, which names its own."""
    pillow = Image.MAX_IMAGE_PIXELS
    limit = min(max_pixels, 2 * pillow) if pillow else max_pixels
    found = BOMB_PIXELS.search(str(error))
    got = f"{int(found.group(1)):,}" if found else f"more than {limit:,}"
    return TooManyPixels(f"expected at most {limit:,} pixels, got {got}")


def to_model_input(rgb: Image.Image, contract: ServingContract = CONTRACT) -> np.ndarray:
    """RGB picture -> uint8 [size, size, 3], stretched with LANCZOS exactly as rembg does."""
    small = rgb.resize((contract.size, contract.size), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.uint8)


def mask_to_size(mask: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """uint8 mask [320, 320] -> mode L mask at ``size`` (LANCZOS, as rembg)."""
    return Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8), mode="L").resize(
        size, Image.Resampling.LANCZOS
    )


def mask_on_grid(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """uint8 mask [h, w] -> the same mask on a grid of ``shape`` ([H, W]), resized with LANCZOS
    as a mask is resized to its photo (:func:`mask_to_size`): one model's mask where another
    model of another input size put its own, so the two can be compared. A mask already on
    that grid is returned as it is (no resize, no copy)."""
    if mask.ndim != 2 or len(shape) != 2:
        raise ValueError(
            f"expected a [H, W] mask onto a [H, W] grid, got {mask.shape} onto {shape}"
        )
    if mask.shape == tuple(shape):
        return mask
    height, width = shape
    return np.asarray(mask_to_size(mask, (width, height)))


def cutout(rgb: Image.Image, mask: Image.Image) -> Image.Image:
    """Straight alpha: the RGB pixels stay as they are, the mask becomes alpha."""
    return compositing.cutout(rgb, mask, compositing.STRAIGHT)


@dataclass(frozen=True)
class Finished:
    """A finished picture and its foreground's box (left, top, width, height) in its pixels."""

    image: Image.Image
    box: Box


def subject_of(rgb: Image.Image, mask: Image.Image, options: OutputOptions) -> Image.Image:
    """Mask at the photo's size -> the mask itself, or the RGBA cut-out in the options' mode."""
    if options.only_mask:
        return mask
    if options.matting is not None:
        return matte_or_cutout(rgb, mask, options.matting, options.composite)
    return compositing.cutout(rgb, mask, options.composite)


def backdrop(subject: Image.Image, options: OutputOptions) -> Image.Image:
    """The cut-out over its shadow, then over the background image or colour, if asked
    (``subject`` is composed in place when a shadow or a background photo is asked)."""
    if options.only_mask:
        return subject
    if options.bg_image:
        shadow = None
        if options.shadow:
            shadow = scene.shadow_alpha(subject.getchannel("A"), options.shadow_opacity)
        return scene.over_photo(subject, backdrop_photo(options.bg_image, subject.size), shadow)
    if options.shadow:
        subject = scene.with_shadow(subject, options.shadow_opacity)
    if options.bgcolor is None:
        return subject
    return compositing.over_color(subject, options.bgcolor, options.composite)


def compose(rgb: Image.Image, mask: Image.Image, options: OutputOptions) -> Image.Image:
    """Mask at the photo's size -> the picture asked for (mask, cut-out, or over a colour)."""
    return backdrop(subject_of(rgb, mask, options), options)


def backdrop_photo(data: bytes, size: tuple[int, int]) -> Image.Image:
    """A background photo covering ``size`` (u2net.scene.cover): a new RGB picture the
    caller may draw on."""
    photo = background(data)
    covered = scene.cover(photo, size)
    return covered.copy() if covered is photo else covered


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


def shaped_mask(mask: Image.Image, options: OutputOptions) -> Image.Image:
    """The mask within the region of interest, and hardened without semitransparency."""
    if options.roi is not None:
        mask = scene.within_roi(mask, options.roi)
    return mask if options.semitransparency else scene.harden(mask)


def staged(rgb: Image.Image, mask: Image.Image, options: OutputOptions) -> tuple[Image.Image, Box]:
    """The picture asked for and its foreground's box, the subject scaled and positioned."""
    subject, box = subject_of(rgb, mask, options), foreground_box(mask)
    if options.moves_subject:
        target = scene.target_box(box, rgb.size, options.scale, options.position)
        subject, mask = scene.place(subject, box, target), scene.place(mask, box, target)
        box = foreground_box(mask)
    return backdrop(subject, options), box


def finish(rgb: Image.Image, mask_320: np.ndarray, options: OutputOptions) -> Finished:
    """The finished picture for one photo from its model-sized mask: the composition steps
    (u2net.scene) and compose, then crop to the foreground (with a margin) and scale down to
    ``max_output_pixels`` if asked."""
    mask = mask_to_size(mask_320, rgb.size)
    if options.post_process:
        mask = post_process_mask(mask)
    image, box = staged(rgb, shaped_mask(mask, options), options)
    if options.crop:
        image, box = crop_to_box(image, box, options.crop_margin)
    if options.max_output_pixels is not None:
        image, box = limit_pixels(image, box, options.max_output_pixels)
    return Finished(with_profile(image, rgb), box)


def with_profile(image: Image.Image, rgb: Image.Image) -> Image.Image:
    """The photo's ICC profile on a colour result (``encode`` writes it); a mask gets none."""
    if ICC in rgb.info and image.mode in ("RGB", "RGBA"):
        image.info[ICC] = rgb.info[ICC]
    return image


def render(rgb: Image.Image, mask_320: np.ndarray, options: OutputOptions) -> Image.Image:
    """The finished picture alone (see :func:`finish`)."""
    return finish(rgb, mask_320, options).image


def matte_or_cutout(
    rgb: Image.Image, mask: Image.Image, matting: MattingOptions, mode: str
) -> Image.Image:
    """Alpha matting with its own foreground colours (RGB cleared under alpha 0 in ``clean``);
    where it cannot run (no unknown region, say), the plain cut-out in ``mode``."""
    try:
        return compositing.with_alpha(matte(rgb, mask, matting), mode)
    except ValueError as e:  # pymatting's way of saying the trimap is unusable, as in rembg
        log.warning("alpha matting not possible (%s); using the plain cut-out", e)
        return compositing.cutout(rgb, mask, mode)


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
