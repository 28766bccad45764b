"""The CLI's argument groups: each output option's flag parses as the option does, and every
flag's type is total (a value or argparse's one-line error, never a Python exception)."""

from __future__ import annotations

import argparse

import pytest
from hypothesis import given

from client.args import OutputArgs, checked
from tests.field_text import FIELD_TEXT, TOTAL, hostile_examples, one_line
from u2net.options import CHOICE, FLAG, OPTIONS, UPLOAD, OutputOptions, option

# the flags that parse text, one of each kind (the others of a kind differ only in range)
TYPED = list(
    {r.kind: r for r in reversed(OPTIONS) if r.kind not in (FLAG, UPLOAD, CHOICE)}.values()
)


@pytest.mark.parametrize("row", TYPED, ids=lambda row: row.name)
@TOTAL
@given(text=FIELD_TEXT)
@hostile_examples("text")
def test_every_option_flags_type_is_total(row, text: str) -> None:
    try:
        checked(row)(text)
    except argparse.ArgumentTypeError as e:
        one_line(str(e))


def parsed(*flags: str, photos: bool = True) -> OutputOptions:
    parser = argparse.ArgumentParser()
    OutputArgs(photos).add_to(parser)
    return OutputArgs(photos).parse(parser.parse_args(list(flags)), None)


def test_the_flags_are_the_options_names_and_rembgs_spellings() -> None:
    assert parsed("-om", "--crop", "--shadow-opacity", "7", "--no-semitransparency") == (
        OutputOptions(only_mask=True, crop=True, shadow_opacity=7, semitransparency=False)
    )
    assert parsed("-bgc", "1", "2", "3", "4") == parsed("--bgcolor", "1,2,3,4")


def test_a_videos_frames_take_no_framing_flags() -> None:
    with pytest.raises(SystemExit):
        parsed("--crop", photos=False)
    assert option("crop").photos_only and not option("only_mask").photos_only
