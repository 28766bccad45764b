"""The per-block sensitivity search, on made-up agreement: which blocks it keeps fp32, and in
how many evaluations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from convert.quantize.search import give_back, read_result, search, write_result
from u2net.agreement import INT8_BAR, MaskAgreement

BLOCKS = ("stage1", "stage2", "stage3", "stage4")


def _photo(iou: float, mean: float = 0.5) -> MaskAgreement:
    return MaskAgreement("photo", iou, mean, 10)


def _counting(rule: Callable[[set[str]], list[MaskAgreement]]):
    seen: list[tuple[str, ...]] = []

    def evaluate(blocks: tuple[str, ...]) -> list[MaskAgreement]:
        seen.append(blocks)
        return rule(set(blocks))

    return evaluate, seen


def test_all_int8_meeting_the_bar_keeps_nothing_in_fp32() -> None:
    evaluate, seen = _counting(lambda _blocks: [_photo(0.999), _photo(0.995)])
    result = search(BLOCKS, evaluate, INT8_BAR)
    assert result.passed and result.fp32_blocks == ()
    assert seen == [()]


def test_one_culprit_is_found_and_kept_alone() -> None:
    evaluate, seen = _counting(lambda b: [_photo(0.999 if "stage3" in b else 0.6)])
    result = search(BLOCKS, evaluate, INT8_BAR)
    assert result.passed and result.fp32_blocks == ("stage3",)
    assert result.sensitivity[0][0] == "stage3"
    assert len(seen) == len(set(seen)) <= 2 * len(BLOCKS)  # each set evaluated once


def test_two_culprits_on_different_photos_are_both_kept_and_helpers_given_back() -> None:
    def rule(blocks: set[str]) -> list[MaskAgreement]:
        # stage2 fixes photo one, stage4 photo two; stage1 helps both a little, so it ranks
        # first, is kept on the way, then given back once the other two are in
        one = 0.995 if "stage2" in blocks else (0.9 if "stage1" in blocks else 0.8)
        two = 0.995 if "stage4" in blocks else (0.9 if "stage1" in blocks else 0.8)
        return [_photo(one), _photo(two)]

    evaluate, _seen = _counting(rule)
    result = search(BLOCKS, evaluate, INT8_BAR)
    assert result.sensitivity[0][0] == "stage1"
    assert result.passed and result.fp32_blocks == ("stage2", "stage4")


def test_mean_difference_counts_as_well_as_iou() -> None:
    evaluate, _seen = _counting(lambda b: [_photo(0.999, 0.5 if "stage1" in b else 3.0)])
    result = search(BLOCKS, evaluate, INT8_BAR)
    assert result.fp32_blocks == ("stage1",)


def test_no_set_meets_the_bar_says_so() -> None:
    evaluate, _seen = _counting(lambda b: [_photo(0.9 + 0.01 * len(b))])
    result = search(BLOCKS, evaluate, INT8_BAR)
    assert not result.passed
    assert result.trials[-1].worst_iou < INT8_BAR.min_iou


def test_a_result_reads_back_as_written(tmp_path) -> None:
    evaluate, _seen = _counting(lambda b: [_photo(0.999 if "stage3" in b else 0.6)])
    result = search(BLOCKS, evaluate, INT8_BAR)
    write_result(tmp_path / "search.json", result)
    assert read_result(tmp_path / "search.json") == result


def test_nodes_go_back_to_int8_one_unit_at_a_time_while_the_bar_holds() -> None:
    """Units a and c keep the bar, b breaks it alone, and a with c breaks it: the costliest
    that fits goes first, and each later unit is judged with those already given back."""
    seen: list[tuple[str, ...]] = []

    def evaluate(given: tuple[str, ...]) -> list[MaskAgreement]:
        seen.append(given)
        broken = "b" in given or {"a", "c"} <= set(given)
        return [_photo(0.9 if broken else 0.999)]

    units = [("a", "relu_a"), ("b",), ("c", "relu_c"), ("d",)]
    given, trials = give_back(("stage2",), units, evaluate, INT8_BAR)
    assert given == ("a", "relu_a", "d")
    assert seen == [("a", "relu_a"), ("a", "relu_a", "b"), ("a", "relu_a", "c", "relu_c"), given]
    assert [t.passes(INT8_BAR) for t in trials] == [True, False, False, True]
    assert all(t.fp32_blocks == ("stage2",) for t in trials)


def test_nodes_given_back_read_back_as_written(tmp_path) -> None:
    evaluate, _seen = _counting(lambda b: [_photo(0.999 if "stage3" in b else 0.6)])
    found = search(BLOCKS, evaluate, INT8_BAR)
    given, trials = give_back(("stage3",), [("Conv_1",)], lambda g: [_photo(0.999)], INT8_BAR)
    result = replace(found, int8_nodes=given, trials=(*found.trials, *trials))
    write_result(tmp_path / "search.json", result)
    assert read_result(tmp_path / "search.json") == result
    assert read_result(tmp_path / "search.json").int8_nodes == ("Conv_1",)
