"""u2net.memory's estimate of a cut's peak against the peak a real cut reaches, and the
largest photo a budget admits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.distribution import ALLOCATOR_ENV
from u2net.image.matting import MattingOptions
from u2net.memory import MB, Sizes, largest_photo, peak_bytes
from u2net.options import OutputOptions
from web.config import DEFAULT_MEMORY_BUDGET_MB

BENCH = Path(__file__).resolve().parents[2] / "bench" / "cut_memory.py"
WORST = OutputOptions(shadow=True, scale=0.5, position=(0.5, 0.5), bg_image=b"photo")


@pytest.mark.parametrize("case", ["worst", "webp"])
def test_the_estimate_is_above_a_real_cuts_peak_and_not_far(case: str) -> None:
    """A 6 MP cut in a fresh process with the server's allocator settings (the bench's)."""
    command = [sys.executable, str(BENCH), "--child", case, "--side", "2500"]
    done = subprocess.run(
        command, env={**os.environ, **ALLOCATOR_ENV}, capture_output=True, text=True, check=True
    )
    row = json.loads(done.stdout.splitlines()[-1])
    assert row["measured"] <= row["estimate"] <= 2 * row["measured"], row


def test_the_default_budget_holds_the_default_limits_worst_case() -> None:
    """100 MP (the pixel limit) with the same photo as background, shadow and scale."""
    assert peak_bytes(Sizes(100_000_000, 100_000_000), WORST) <= DEFAULT_MEMORY_BUDGET_MB * MB


@pytest.mark.parametrize(
    ("options", "background"),
    [(OutputOptions(), 0), (WORST, 30_000_000), (OutputOptions(matting=MattingOptions()), 0)],
)
def test_the_largest_photo_is_the_last_that_fits(options, background) -> None:
    budget = 512 * MB
    largest = largest_photo(budget, options, background)
    assert largest > 0
    assert peak_bytes(Sizes(largest, background), options) <= budget
    assert peak_bytes(Sizes(largest + 1, background), options) > budget


def test_no_photo_fits_beside_a_background_too_large_alone() -> None:
    assert largest_photo(512 * MB, WORST, 500_000_000) == 0
