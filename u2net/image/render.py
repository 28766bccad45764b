"""The picture maths around the network: a photo to the model's input, the mask back to the
photo's size (or onto another model's grid), and the finished picture the options ask for:
mask or cut-out (u2net.image.compositing, u2net.image.matting), the composition steps
(u2net.image.scene), crop and pixel budget (u2net.image.framing). Pure: pictures in, pictures
out (a background photo is decoded through u2net.image.io).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from PIL import Image

from u2net.contract import CONTRACT, ServingContract
from u2net.image import compositing, scene
from u2net.image.decode import ICC
from u2net.image.framing import Box, crop_to_box, foreground_box, limit_pixels
from u2net.image.io import background
from u2net.image.matting import MattingOptions, matte
from u2net.image.postprocess import post_process_mask
from u2net.options import OutputOptions

log = logging.getLogger(__name__)


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


def backdrop_photo(data: bytes, size: tuple[int, int]) -> Image.Image:
    """A background photo covering ``size`` (u2net.image.scene.cover): a new RGB picture the
    caller may draw on."""
    photo = background(data)
    covered = scene.cover(photo, size)
    return covered.copy() if covered is photo else covered


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
    (u2net.image.scene) and compose, then crop to the foreground (with a margin) and scale down to
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
