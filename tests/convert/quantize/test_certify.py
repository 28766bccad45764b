"""Certification photo by photo: ``until_miss`` stops at the first photo outside fp32's floor,
and a variant inside it on every photo is measured on all of them, as ``certify`` measures."""

from __future__ import annotations

import numpy as np
import pytest

from convert.quantize.certify import Certification, certify, until_miss


class Bright:
    """A stand-in runner: the mask is where the input is bright (fp32's stand-in); ``dark``
    names the calls on which it answers an empty mask instead (a variant that misses)."""

    def __init__(self, dark: set[int] = frozenset()) -> None:
        self.calls, self.dark = 0, dark

    def mask(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.calls in self.dark:
            return np.zeros(image.shape[:2], dtype=np.uint8)
        return np.where(image[..., 0] > 127, 255, 0).astype(np.uint8)


def _photos(count: int) -> list[np.ndarray]:
    photos = []
    for i in range(count):
        photo = np.zeros((48, 64, 3), dtype=np.uint8)
        photo[8 : 24 + i, 10 : 40 + i] = 230
        photos.append(photo)
    return photos


def test_until_miss_ends_at_the_first_photo_outside_its_floor() -> None:
    photos = _photos(4)
    names = [f"p{i}.png" for i in range(4)]
    candidate = Bright(dark={3})  # the warm-up, then p0, then p1: empty
    found = until_miss(Bright(), candidate, names, photos)
    assert [c.agreement.name for c in found.photos] == ["p0.png", "p1.png"]
    assert [c.passed for c in found.photos] == [True, False]
    assert found.of == 4 and found.ended_early and not found.passed(0.0)
    assert candidate.calls == 3 and found.speed.runs == 2  # nothing run after the miss


@pytest.mark.parametrize("judge", [certify, until_miss], ids=["certify", "until-miss"])
def test_a_variant_inside_every_floor_is_measured_on_every_photo(judge) -> None:
    photos = _photos(3)
    found: Certification = judge(Bright(), Bright(), ["a", "b", "c"], photos)
    assert found.inside == 3 and not found.ended_early and found.passed(0.0)
    assert found.speed.runs == 3


def test_a_build_that_ended_at_a_miss_says_so_and_judges_no_speed() -> None:
    from convert.quantize.stage import Outcome

    found = until_miss(Bright(), Bright(dark={2}), ["p0.png", "p1.png"], _photos(2))
    line = Outcome("u2net_int8", None, False, found).line()
    assert "inside fp32's noise floor on 0 of the first 1 of 2 held-out photos" in line
    assert "p0.png IoU 0.000" in line and "speed not judged after a miss" in line
    assert "x fp32 (bar" not in line and line.endswith("not staged (--force stages it)")
