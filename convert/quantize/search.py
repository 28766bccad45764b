"""The per-block sensitivity search: which U-blocks stay fp32 so that int8 agrees with fp32.

Pure: the caller's ``evaluate`` builds and runs a variant with the given blocks in fp32 and
returns its per-photo agreement with fp32. The block search, in at most ``2 * len(blocks)``
evaluations (each evaluation is remembered):

1. everything int8 but the head; if that meets the bar, done;
2. each block alone kept fp32: how much of the shortfall does it remove? (its sensitivity);
3. keep blocks fp32 in that order, most sensitive first, until the bar is met;
4. give back to int8 every kept block the bar does not need (last added first);
5. then, node by node (:func:`give_back`): each conv of the kept blocks (with its Relu), most
   multiply-adds first, goes to int8 when the bar still holds with it.

When no set meets the bar the result says so (``passed`` False) with the best set found.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from u2net.agreement import MaskAgreement
from u2net.repository.files import atomic_write_bytes

Evaluate = Callable[[tuple[str, ...]], Sequence[MaskAgreement]]


class Bar(Protocol):
    """One bar for every photo (``u2net.agreement.AgreementBar``) or one per photo
    (``PhotoBars``, from fp32's noise floor on each)."""

    def passes(self, agreement: MaskAgreement) -> bool: ...

    def shortfall(self, agreement: MaskAgreement) -> float: ...


@dataclass(frozen=True)
class Trial:
    """One evaluated set of fp32 blocks and its per-photo agreement."""

    fp32_blocks: tuple[str, ...]
    agreements: tuple[MaskAgreement, ...]
    int8_nodes: tuple[str, ...] = ()  # nodes of those blocks given back to int8

    def shortfall(self, bar: Bar) -> float:
        return sum(bar.shortfall(a) for a in self.agreements)

    def passes(self, bar: Bar) -> bool:
        return all(bar.passes(a) for a in self.agreements)

    @property
    def worst_iou(self) -> float:
        return min(a.iou for a in self.agreements)

    @property
    def worst_mean_abs_diff(self) -> float:
        return max(a.mean_abs_diff for a in self.agreements)


@dataclass(frozen=True)
class SearchResult:
    fp32_blocks: tuple[str, ...]
    passed: bool
    sensitivity: tuple[tuple[str, float], ...]  # block, shortfall left with it alone in fp32
    trials: tuple[Trial, ...]  # in the order they were evaluated
    int8_nodes: tuple[str, ...] = ()  # nodes of the fp32 blocks given back to int8


class _Memo:
    def __init__(self, evaluate: Evaluate, order: Sequence[str]) -> None:
        self._evaluate = evaluate
        self._order = list(order)
        self.trials: dict[tuple[str, ...], Trial] = {}

    def __call__(self, blocks: Sequence[str]) -> Trial:
        key = tuple(sorted(blocks, key=self._order.index))  # graph order: one key per set
        if key not in self.trials:
            self.trials[key] = Trial(key, tuple(self._evaluate(key)))
        return self.trials[key]


def _prune(kept: list[str], memo: _Memo, bar: Bar) -> list[str]:
    for block in reversed(list(kept)):
        fewer = [b for b in kept if b != block]
        if memo(fewer).passes(bar):
            kept = fewer
    return kept


def search(blocks: Sequence[str], evaluate: Evaluate, bar: Bar) -> SearchResult:
    """Find a small set of blocks to keep fp32 (see the module's docstring)."""
    memo = _Memo(evaluate, blocks)
    base = memo(())
    if base.passes(bar):
        return SearchResult((), True, (), tuple(memo.trials.values()))
    sensitivity = sorted(((b, memo((b,)).shortfall(bar)) for b in blocks), key=lambda item: item[1])
    kept: list[str] = []
    best = base
    for block, _shortfall in sensitivity:
        kept.append(block)
        best = memo(kept)
        if best.passes(bar):
            kept = _prune(kept, memo, bar)
            best = memo(kept)
            break
    return SearchResult(
        best.fp32_blocks, best.passes(bar), tuple(sensitivity), tuple(memo.trials.values())
    )


EvaluateNodes = Callable[[tuple[str, ...]], Sequence[MaskAgreement]]


def give_back(
    blocks: tuple[str, ...],
    units: Sequence[tuple[str, ...]],
    evaluate: EvaluateNodes,
    bar: Bar,
) -> tuple[tuple[str, ...], tuple[Trial, ...]]:
    """Step 5: with ``blocks`` fp32, give each unit of nodes to int8 in turn (the caller
    orders them, costliest first), keeping it there when the bar still holds with it and
    every unit kept before it. ``evaluate`` takes the nodes given back so far."""
    given: tuple[str, ...] = ()
    trials = []
    for unit in units:
        trial = Trial(blocks, tuple(evaluate((*given, *unit))), (*given, *unit))
        trials.append(trial)
        if trial.passes(bar):
            given = trial.int8_nodes
    return given, tuple(trials)


def write_result(path: Path, result: SearchResult) -> None:
    """The one writer of a search result (JSON, atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(asdict(result), indent=1) + "\n").encode())


def read_result(path: Path) -> SearchResult:
    """The one reader of :func:`write_result`'s file."""
    data = json.loads(Path(path).read_text())
    trials = tuple(
        Trial(
            tuple(t["fp32_blocks"]),
            tuple(MaskAgreement(**a) for a in t["agreements"]),
            tuple(t.get("int8_nodes", ())),
        )
        for t in data["trials"]
    )
    sensitivity = tuple((b, float(s)) for b, s in data["sensitivity"])
    blocks, passed = tuple(data["fp32_blocks"]), bool(data["passed"])
    int8_nodes = tuple(data.get("int8_nodes", ()))
    return SearchResult(blocks, passed, sensitivity, trials, int8_nodes)
