"""Certify a faster serving graph against fp32 on photos its calibration never saw: on each
photo its agreement with fp32 beside fp32's own noise floor there (``u2net.agreement``), and
the speed of one raw request: fp32 and the candidate run in turn on each photo, and those
same runs are timed. :func:`certify` measures every photo (the table); :func:`until_miss`
stops at the first photo outside its floor (a build needs no more runs to know it misses)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from convert.errors import QuantizeError
from convert.quantize.measure import Runner, Speed, interleaved_runs
from u2net.agreement import Certified, NoiseFloor, certified_rows, compare_masks, noise_floor
from u2net.image.render import to_model_input

SPEED_ROUNDS = 1  # interleaved rounds over the held-out photos: the agreement's own runs


@dataclass(frozen=True)
class Certification:
    """One candidate's verdict on every held-out photo, and its speed."""

    photos: tuple[Certified, ...]
    speed: Speed
    of: int | None = None  # the held-out photos there were, when it ended at a miss before

    @property
    def ended_early(self) -> bool:
        """Did it stop at a photo outside its floor, leaving photos unmeasured?"""
        return self.of is not None and self.of > len(self.photos)

    @property
    def inside(self) -> int:
        """How many photos' agreement is inside fp32's floor on them."""
        return sum(c.passed for c in self.photos)

    @property
    def outside(self) -> tuple[Certified, ...]:
        return tuple(c for c in self.photos if not c.passed)

    def passed(self, min_speedup: float) -> bool:
        return not self.outside and self.speed.speedup >= min_speedup

    def rows(self) -> list[list[str]]:
        """The per-photo table, both columns side by side (``CERTIFIED_COLUMNS``)."""
        return certified_rows(self.photos)


def model_input(photo: np.ndarray) -> np.ndarray:
    """A full-size uint8 RGB photo as the serving graph takes it (the client's resize)."""
    return to_model_input(Image.fromarray(photo))


def floors(
    reference: Runner,
    names: Sequence[str],
    photos: Sequence[np.ndarray],
    masks: Sequence[np.ndarray] | None = None,
) -> list[NoiseFloor]:
    """fp32's floor on each photo: the invisible changes are made to the full-size photo,
    then resized as every request is (``masks``: fp32's masks of the photos, if known)."""
    known = masks if masks is not None else [None] * len(photos)
    return [
        noise_floor(lambda p: reference.mask(model_input(p)), photo, name, mask)
        for name, photo, mask in zip(names, photos, known, strict=True)
    ]


def certify(
    reference: Runner,
    candidate: Runner,
    names: Sequence[str],
    photos: Sequence[np.ndarray],
    *,
    rounds: int = SPEED_ROUNDS,
    known_floors: Sequence[NoiseFloor] | None = None,
) -> Certification:
    """``candidate`` against ``reference`` (fp32) on full-size ``photos`` (``known_floors``:
    the reference's floors measured before, for comparing several candidates)."""
    if not photos:
        raise QuantizeError("expected at least one held-out photo to certify on, got none")
    inputs = np.stack([model_input(p) for p in photos])
    masks, candidates, speed = interleaved_runs(reference, candidate, inputs, rounds)
    floor = known_floors if known_floors is not None else floors(reference, names, photos, masks)
    found = [
        Certified(compare_masks(m, c, n), f)
        for n, m, c, f in zip(names, masks, candidates, floor, strict=True)
    ]
    return Certification(tuple(found), speed)


def until_miss(
    reference: Runner, candidate: Runner, names: Sequence[str], photos: Sequence[np.ndarray]
) -> Certification:
    """:func:`certify` photo by photo, ending at the first photo outside fp32's floor: each
    photo's fp32 and candidate runs, in turn and timed (after one untimed warm-up each),
    then fp32's floor there. A variant that passes costs what :func:`certify` does."""
    if not photos:
        raise QuantizeError("expected at least one held-out photo to certify on, got none")
    warm = model_input(photos[0])
    reference.mask(warm)
    candidate.mask(warm)
    found: list[Certified] = []
    times: tuple[list[float], list[float]] = ([], [])
    for name, photo in zip(names, photos, strict=True):
        image = model_input(photo)
        masks = []
        for runner, kept in zip((reference, candidate), times, strict=True):
            start = time.perf_counter()
            masks.append(runner.mask(image))
            kept.append(time.perf_counter() - start)
        floor = noise_floor(lambda p: reference.mask(model_input(p)), photo, name, masks[0])
        found.append(Certified(compare_masks(masks[0], masks[1], name), floor))
        if not found[-1].passed:
            break
    speed = Speed(statistics.median(times[0]), statistics.median(times[1]), len(times[0]))
    return Certification(tuple(found), speed, of=len(photos))
