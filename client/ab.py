"""``python -m client ab``: the same images under the same load to two served variants, then
B's agreement with A per image beside A's own noise floor there (A on the same photo changed
in ways no viewer sees: ``u2net.agreement``)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from client.loadgen import (
    MEASUREMENT_HEADERS,
    ServerStats,
    Window,
    counted,
    drive,
    measurements,
    settled_statistics,
    stats_delta,
)
from client.triton import TritonModel
from u2net.agreement import (
    Certified,
    MaskAgreement,
    NoiseFloor,
    compare_masks,
    floor_of,
    invisible_changes,
)
from u2net.errors import ServingError
from u2net.imaging import open_rgb, to_model_input

log = logging.getLogger(__name__)


@dataclass
class VariantRun:
    model: str
    window: Window
    server: ServerStats

    def as_dict(self) -> dict:
        return {"model": self.model, **measurements(self.window, self.server)}


@dataclass
class ABReport:
    a: VariantRun
    b: VariantRun
    agreements: list[MaskAgreement]
    skipped: list[tuple[str, str]]
    concurrency: int
    floors: list[NoiseFloor] | None = None  # A's floor per image, where measured

    def worst(self, n: int = 3) -> list[MaskAgreement]:
        return sorted(self.agreements, key=lambda m: (m.iou, -m.mean_abs_diff))[:n]

    def certified(self) -> list[Certified]:
        """Each image's agreement beside A's floor there (empty without floors)."""
        if self.floors is None:
            return []
        return [Certified(a, f) for a, f in zip(self.agreements, self.floors, strict=True)]

    def per_image(self) -> list[dict]:
        found = self.certified()
        if not found:
            return [asdict(a) for a in self.agreements]
        return [c.as_dict() for c in found]

    def as_dict(self) -> dict:
        ious = [m.iou for m in self.agreements]
        means = [m.mean_abs_diff for m in self.agreements]
        return {
            "concurrency": self.concurrency,
            "variants": [self.a.as_dict(), self.b.as_dict()],
            "agreement": {
                "images": len(self.agreements),
                "iou_mean": float(np.mean(ious)) if ious else float("nan"),
                "iou_worst": min(ious, default=float("nan")),
                "mean_abs_diff_mean": float(np.mean(means)) if means else float("nan"),
                "max_abs_diff": max((m.max_abs_diff for m in self.agreements), default=0),
                "worst": [asdict(m) for m in self.worst()],
                "inside_floor": sum(c.passed for c in self.certified()) if self.floors else None,
                "per_image": self.per_image(),
            },
            "skipped": [{"image": p, "reason": r} for p, r in self.skipped],
        }


def load_inputs(paths: list[Path], max_pixels: int) -> tuple[list[str], np.ndarray, list]:
    """Decode and pre-process once; unreadable images are skipped with their reason."""
    names, arrays, skipped = [], [], []
    for path in paths:
        try:
            arrays.append(to_model_input(open_rgb(path, max_pixels)))
            names.append(str(path))
        except ServingError as e:
            skipped.append((str(path), str(e)))
    if not arrays:
        raise ServingError("no readable images to send")
    return names, np.stack(arrays), skipped


def run_variant(
    model: TritonModel, batch: np.ndarray, requests: int, concurrency: int
) -> tuple[VariantRun, np.ndarray]:
    masks = np.zeros((len(batch), *batch.shape[1:3]), dtype=np.uint8)
    n = len(batch)

    def send(i: int) -> np.ndarray:
        return model.infer(batch[i % n][None])[0]

    def keep(i: int, mask: object) -> None:
        if i < n:
            masks[i] = mask

    name = model.resolve()
    start = model.statistics()
    warm_up = drive(send, min(concurrency, requests), concurrency)  # not measured
    sent = counted(start, name) + len(warm_up.latencies_s)
    before = settled_statistics(model.statistics, name, sent)
    window = drive(send, requests, concurrency, keep)
    sent = counted(before, name) + len(window.latencies_s)
    after = settled_statistics(model.statistics, name, sent)
    return VariantRun(name, window, stats_delta(before, after, name)), masks


def measure_floors(
    model: TritonModel, names: list[str], masks: np.ndarray, max_pixels: int
) -> list[NoiseFloor]:
    """``model``'s floor on each image: one request of its invisible changes per image (the
    photo is decoded again, so only one image's copies are held at a time)."""
    found = []
    for name, mask in zip(names, masks, strict=True):
        photo = np.asarray(open_rgb(Path(name), max_pixels))
        changed = np.stack([to_model_input(Image.fromarray(c)) for c in invisible_changes(photo)])
        moved = [compare_masks(mask, m) for m in model.infer(changed)]
        found.append(floor_of(moved, name))
    return found


def run_ab(
    url: str,
    model_a: str,
    model_b: str,
    paths: list[Path],
    *,
    concurrency: int,
    requests: int,
    timeout_s: float,
    max_pixels: int,
    floor: bool = True,
) -> ABReport:
    names, batch, skipped = load_inputs(paths, max_pixels)
    requests = max(requests, len(names))
    runs, masks = [], []
    floors = None
    models = [TritonModel(url, requested, timeout_s) for requested in (model_a, model_b)]
    try:
        for model in models:  # a model the server cannot serve fails before A is measured
            model.resolve()
        for model in models:
            run, m = run_variant(model, batch, requests, concurrency)
            if floor and not runs:
                floors = measure_floors(model, names, m, max_pixels)
            if run.window.errors:
                raise ServingError(
                    f"{run.model}: {len(run.window.errors)} requests failed, "
                    f"first: {run.window.errors[0]}"
                )
            runs.append(run)
            masks.append(m)
    finally:
        for model in models:
            model.close()
    agreements = [
        compare_masks(a, b, name) for a, b, name in zip(masks[0], masks[1], names, strict=True)
    ]
    return ABReport(runs[0], runs[1], agreements, skipped, concurrency, floors)


VARIANT_HEADERS = ["model", *MEASUREMENT_HEADERS]


def variant_rows(report: ABReport) -> list[list[object]]:
    return [list(run.as_dict().values()) for run in (report.a, report.b)]
