"""``python -m client ab``: the same images under the same load to two served variants, then
B's agreement with A per image beside A's own noise floor there (A on the same photo changed
in ways no viewer sees: ``u2net.agreement``).

Each variant gets the photos at its own input size (320² for U²-Net, 1024² for IS-Net), one
size's inputs held at a time; B's masks are compared on A's grid (resized with LANCZOS where
the sizes differ, as a mask is resized to its photo), where A's floor was measured."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from client.load.loadgen import MEASUREMENT_HEADERS, Window, drive, measurements
from client.statistics import (
    ServerStats,
    cache_note,
    counted,
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
from u2net.contract import CONTRACT, ServingContract
from u2net.errors import ServingError
from u2net.image.io import open_rgb
from u2net.image.render import mask_on_grid, to_model_input

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
    grid: tuple[int, int] = (CONTRACT.size, CONTRACT.size)  # A's masks' [H, W]: compared there
    b_shape: tuple[int, int] = (CONTRACT.size, CONTRACT.size)  # B's masks' as served

    @property
    def resized(self) -> bool:
        """Were B's masks resized onto A's grid (models of two input sizes)?"""
        return self.b_shape != self.grid

    def compared_at(self) -> str:
        """Where the masks were compared, for the text report: ``320x320``, and B's size where
        its masks were resized onto A's grid."""
        where = "x".join(map(str, self.grid[::-1]))
        if not self.resized:
            return where
        return f"{where}, B's {'x'.join(map(str, self.b_shape[::-1]))} resized with LANCZOS"

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

    def grids(self) -> dict[str, object]:
        """Where the masks were compared, for the JSON report: only where B's were resized
        (a report of two models of one size is as it always was)."""
        if not self.resized:
            return {}
        size, b_size = (list(shape[::-1]) for shape in (self.grid, self.b_shape))
        return {"compared_at": {"mask_size": size, "b_mask_size": b_size, "resize": "LANCZOS"}}

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
                **self.grids(),
            },
            "skipped": [{"image": p, "reason": r} for p, r in self.skipped],
        }


def load_inputs(
    paths: list[Path], max_pixels: int, contract: ServingContract = CONTRACT
) -> tuple[list[str], np.ndarray, list]:
    """Decode and pre-process once, at ``contract``'s size; unreadable images are skipped with
    their reason."""
    names, arrays, skipped = [], [], []
    for path in paths:
        try:
            arrays.append(to_model_input(open_rgb(path, max_pixels), contract))
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
    server = stats_delta(before, after, name)
    if note := cache_note(server, name, len(window.latencies_s)):
        log.warning(note)
    return VariantRun(name, window, server), masks


def measure_floors(
    model: TritonModel, names: list[str], masks: np.ndarray, max_pixels: int
) -> list[NoiseFloor]:
    """``model``'s floor on each image: one request of its invisible changes per image (the
    photo is decoded again, so only one image's copies are held at a time)."""
    found = []
    for name, mask in zip(names, masks, strict=True):
        photo = np.asarray(open_rgb(Path(name), max_pixels))
        changed = np.stack(
            [to_model_input(Image.fromarray(c), model.contract) for c in invisible_changes(photo)]
        )
        moved = [compare_masks(mask, m) for m in model.infer(changed)]
        found.append(floor_of(moved, name))
    return found


@dataclass
class Inputs:
    """The readable photos pre-processed at one model input size."""

    size: int
    names: list[str]
    batch: np.ndarray
    skipped: list[tuple[str, str]]

    @classmethod
    def load(cls, paths: list[Path], max_pixels: int, contract: ServingContract) -> Inputs:
        return cls(contract.size, *load_inputs(paths, max_pixels, contract))


def same_images(names: list[str], inputs: Inputs) -> None:
    """B's inputs (decoded again at its size) are of A's images, in A's order."""
    if inputs.names != names:
        raise ServingError(
            f"expected the {len(names)} images A read to read at {inputs.size}² too, got "
            f"{len(inputs.names)} (a file changed while it was read?)"
        )


def on_grid_of(reference: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """``masks`` [n, h, w] on the grid of ``reference`` [n, H, W] (no resize when it is
    already theirs: two models of one size)."""
    if masks.shape[1:] == reference.shape[1:]:
        return masks
    return np.stack([mask_on_grid(m, reference.shape[1:]) for m in masks])


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
    models = [TritonModel(url, requested, timeout_s=timeout_s) for requested in (model_a, model_b)]
    try:
        for model in models:  # a model the server cannot serve fails before A is measured
            model.resolve()
        return measure_both(
            models,
            paths,
            concurrency=concurrency,
            requests=requests,
            max_pixels=max_pixels,
            floor=floor,
        )
    finally:
        for model in models:
            model.close()


def measure_both(
    models: list[TritonModel],
    paths: list[Path],
    *,
    concurrency: int,
    requests: int,
    max_pixels: int,
    floor: bool,
) -> ABReport:
    """Each resolved model on the photos at its own size (one size's inputs held at a time),
    A's floor, then B's masks against A's on A's grid."""
    runs, masks = [], []
    names, skipped, floors = None, [], None
    inputs: Inputs | None = None
    for model in models:
        if inputs is None or inputs.size != model.contract.size:
            inputs = None  # A's inputs go before B's of another size are built
            inputs = Inputs.load(paths, max_pixels, model.contract)
        if names is None:
            names, skipped = inputs.names, inputs.skipped
        same_images(names, inputs)
        run, m = run_variant(model, inputs.batch, max(requests, len(names)), concurrency)
        if floor and not runs:
            floors = measure_floors(model, names, m, max_pixels)
        if run.window.errors:
            raise ServingError(
                f"{run.model}: {len(run.window.errors)} requests failed, "
                f"first: {run.window.errors[0]}"
            )
        runs.append(run)
        masks.append(m)
    inputs = None  # B's inputs go before its masks are resized
    a_masks, b_masks = masks[0], on_grid_of(masks[0], masks[1])
    agreements = [
        compare_masks(a, b, name) for a, b, name in zip(a_masks, b_masks, names, strict=True)
    ]
    grid, b_shape = masks[0].shape[1:], masks[1].shape[1:]
    return ABReport(runs[0], runs[1], agreements, skipped, concurrency, floors, grid, b_shape)


VARIANT_HEADERS = ["model", *MEASUREMENT_HEADERS]


def variant_rows(report: ABReport) -> list[list[object]]:
    return [list(run.as_dict().values()) for run in (report.a, report.b)]
