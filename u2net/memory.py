"""How much memory one cut holds at its peak, from sizes alone (no pixel decoded): the HTTP
gateway admits work by it (web/capacity.py), so that what runs at once fits a memory budget.

A cut is a sequence of stages (u2net.job: decode, mask, cut-out, composition, encode). Each
stage holds planes made by earlier ones and makes its own for a while; the peak is the
largest sum. Planes are counted in bytes per pixel of the photo (the canvas every stage works
at) or of the background photo, with what each stage makes measured by
``bench/cut_memory.py`` (docs/api.md, "Memory"): every estimate there is above the measured
peak of a cut in a process with the server's allocator settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from u2net.image.compositing import CLEAN, REMBG
from u2net.options import OutputOptions

MB = 1 << 20
FIXED = 32 * MB  # any cut: clean's working grid (512 px) and the encoders' own buffers
DECODE = 7  # an RGBA file decoded, then its RGB copy (bytes per photo pixel)
PHOTO = 3  # the RGB photo, held until the result is encoded
MASK = 1  # the mask at the photo's size
POST_PROCESS = 10  # the opened mask and the blur's 16- and 32-bit sums
SUBJECT = 4  # the RGBA cut-out
SUBJECT_MADE = {CLEAN: 1, REMBG: 8}  # made beside the cut-out while it is composed, by mode
MATTING = 400  # pymatting's float64 planes and its Laplacian's share of a pixel
MATTING_FIXED = 100 * MB
MOVED = 5  # the canvas the subject and mask are moved to, and the resized subject
SHADOW = 3  # the alpha channel, shifted and blurred copies (one is kept: 1 of these)
BACKDROP = 3  # the background photo covering the canvas (RGB)
BACKGROUND_DECODE = 7  # the background photo decoded (bytes per background pixel)
COLOUR = 8  # a solid colour layer and the composite over it (RGBA)
# the pixels handed to the encoder and its buffers, for an RGBA result (a mask: a quarter)
ENCODE = {"png": 8, "jpg": 8, "webp": 22}
MARGIN = 1.25  # allocator slack and what the planes' sum leaves out (measured at 100 MP)


@dataclass(frozen=True)
class Sizes:
    """What a cut's memory depends on: its photo's and background's pixel counts."""

    photo: int
    background: int = 0


def peak_bytes(sizes: Sizes, options: OutputOptions) -> int:
    """The most one cut with ``options`` holds at once, in bytes (encoded inputs not
    counted: the caller holds those already)."""
    p = sizes.photo
    stages = [DECODE * p]
    held = (PHOTO + MASK) * p
    stages.append(held + (POST_PROCESS * p if options.post_process else 0))
    result = MASK if options.only_mask else SUBJECT
    encoding = (PHOTO + result + ENCODE[options.fmt] * result / SUBJECT) * p
    if options.only_mask:
        return _total(max(*stages, encoding))
    if options.matting is not None:
        stages.append(held + (SUBJECT + MATTING) * p + MATTING_FIXED)
    else:
        stages.append(held + (SUBJECT + SUBJECT_MADE.get(options.composite, 0)) * p)
    held += SUBJECT * p
    if options.moves_subject:
        stages.append(held + MOVED * p)
    if options.shadow:
        stages.append(held + SHADOW * p)
    if options.bg_image:
        held += p if options.shadow else 0
        covering = max(BACKGROUND_DECODE * sizes.background, BACKDROP * (p + sizes.background))
        stages.append(held + covering)
    elif options.bgcolor is not None:
        stages.append(held + COLOUR * p)
    return _total(max(*stages, encoding))


def decode_bytes(pixels: int) -> int:
    """What decoding a photo of ``pixels`` holds at its peak (an A/B's decode in the
    gateway, which keeps only the model-sized input)."""
    return _total(DECODE * pixels)


def _total(planes: float) -> int:
    return round(planes * MARGIN) + FIXED


def largest_photo(budget: int, options: OutputOptions, background: int = 0) -> int:
    """The most pixels a photo may have for a cut with ``options`` (and a background photo of
    ``background`` pixels) to fit ``budget`` bytes; 0 when none does."""
    if peak_bytes(Sizes(0, background), options) > budget:
        return 0
    low, high = 0, 1
    while peak_bytes(Sizes(high, background), options) <= budget:
        low, high = high, high * 2
    while high - low > 1:  # peak_bytes grows with the photo: the last size that fits
        middle = (low + high) // 2
        low, high = (
            (middle, high)
            if peak_bytes(Sizes(middle, background), options) <= budget
            else (low, middle)
        )
    return low
