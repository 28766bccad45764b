"""rembg 2.0.86's U²-Net recipe, written out in numpy (sessions/base.py + sessions/u2net.py).

Independent of the project's code on purpose: it runs the *original* ONNX, float in,
seven maps out, exactly as rembg does, and is what every parity test compares against.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from tests.data import cpu_session

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SIZE = (320, 320)


def session(path: Path) -> ort.InferenceSession:
    return cpu_session(path)


def normalize(img: Image.Image, mean=MEAN, std=STD, size=SIZE) -> np.ndarray:
    """sessions/base.py's normalize; each session passes its own mean, std and size."""
    im = img.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    im_ary = np.array(im)
    im_ary = im_ary / max(np.max(im_ary), 1e-6)
    tmp = np.zeros((im_ary.shape[0], im_ary.shape[1], 3))
    for c in range(3):
        tmp[:, :, c] = (im_ary[:, :, c] - mean[c]) / std[c]
    tmp = tmp.transpose((2, 0, 1))
    return np.expand_dims(tmp, 0).astype(np.float32)


def mask_320(sess: ort.InferenceSession, img: Image.Image, *normalization) -> np.ndarray:
    """The model-sized mask (320² for U²-Net; ``normalization``: mean, std, size for
    another session, e.g. dis_custom's (0.5,)*3, (1.0,)*3, (1024, 1024))."""
    outs = sess.run(None, {sess.get_inputs()[0].name: normalize(img, *normalization)})
    pred = outs[0][:, 0, :, :]
    ma, mi = np.max(pred), np.min(pred)
    pred = np.squeeze((pred - mi) / (ma - mi))
    return (pred.clip(0, 1) * 255).astype("uint8")


def rembg_mask(sess: ort.InferenceSession, img: Image.Image, *normalization) -> Image.Image:
    """The mask rembg returns for ``img`` (mode L, original size)."""
    mask = Image.fromarray(mask_320(sess, img, *normalization), mode="L")
    return mask.resize(img.size, Image.Resampling.LANCZOS)


@functools.cache
def photo_mask(model: Path, photo: Path) -> Image.Image:
    """``rembg_mask`` of a photo file with the original ``model``: computed once per test
    session, for the modules that each compare against the same reference."""
    with Image.open(photo) as img:
        return rembg_mask(_cached_session(model), img)


@functools.cache
def _cached_session(path: Path) -> ort.InferenceSession:
    return session(path)


def rembg_cutout(img: Image.Image, mask: Image.Image) -> Image.Image:
    """rembg's ``naive_cutout``: the photo composited with transparent black through the mask."""
    return Image.composite(img, Image.new("RGBA", img.size, 0), mask)


def rembg_over_color(cutout: Image.Image, color: tuple[int, int, int, int]) -> Image.Image:
    """rembg's ``apply_background_color``: the colour, with the cut-out pasted through its alpha."""
    colored = Image.new("RGBA", cutout.size, color)
    colored.paste(cutout, mask=cutout)
    return colored
