"""The reference side of the tests that compare two ways of cutting a photo (the gateway with
``python -m client cut``, ``cutout`` with the client-side cut): the served model's mask of each
distinct network input is asked of that server once per test process, not once per option.

Only the network's answer is remembered, keyed by the server, the served model and the exact
uint8 input; everything around it (decoding, resizing, post-processing, composition,
encoding) runs every time. The side under test always runs its own inference, so a server
that answered the same input differently a second time still fails the comparison.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image

from client import Cutter
from u2net.image.render import to_model_input

MaskOf = Callable[[Cutter, Image.Image], np.ndarray]

_masks: dict[tuple[str, str, bytes], np.ndarray] = {}
_lock = threading.Lock()


def remembered(mask_320: MaskOf) -> MaskOf:
    """``Cutter.mask_320`` answering each input it has seen from its first answer."""

    def remembered_mask_320(cutter: Cutter, rgb: Image.Image) -> np.ndarray:
        served = cutter.connect()
        digest = hashlib.sha256(to_model_input(rgb, cutter.contract).tobytes()).digest()
        key = (cutter.model.url, served, digest)
        with _lock:
            known = _masks.get(key)
        if known is None:
            known = mask_320(cutter, rgb)
            with _lock:
                _masks.setdefault(key, known)
        return known.copy()

    return remembered_mask_320


class ReferenceCutter(Cutter):
    """The client-side cut as the reference of an equality test."""

    mask_320 = remembered(Cutter.mask_320)


@contextmanager
def remembering_masks() -> Iterator[None]:
    """Within the block every :class:`Cutter` (the one ``python -m client cut`` makes when run
    in this process too) is a reference: use it only around the reference side."""
    original = Cutter.mask_320
    Cutter.mask_320 = remembered(original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        Cutter.mask_320 = original  # type: ignore[method-assign]
