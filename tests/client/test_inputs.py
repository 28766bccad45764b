"""Where each input's result goes: defaults, mirroring, globs, clashes, usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.inputs import Job, output_format, plan
from u2net.errors import UsageError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for rel in [
        "a.jpg",
        "sub/b.png",
        "sub/deeper/c.webp",
        "sub/notes.txt",
        "clash/x.jpg",
        "clash/x.png",
    ]:
        (tmp_path / "in" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / rel).write_bytes(b"x")
    return tmp_path


def test_one_file_defaults_beside_input(tree: Path) -> None:
    src = tree / "in" / "a.jpg"
    assert plan([str(src)], None, "png") == [Job(src, tree / "in" / "a.out.png")]


def test_one_file_with_output_file(tree: Path) -> None:
    src = tree / "in" / "a.jpg"
    assert plan([str(src)], tree / "x.webp", "webp") == [Job(src, tree / "x.webp")]


def test_folder_is_mirrored_and_non_images_skipped(tree: Path) -> None:
    jobs = plan([str(tree / "in")], tree / "out", "png")
    targets = sorted(str(j.target.relative_to(tree / "out")) for j in jobs)
    assert targets == [
        "a.out.png",
        "clash/x.jpg.out.png",
        "clash/x.png.out.png",
        "sub/b.out.png",
        "sub/deeper/c.out.png",
    ]


def test_glob_root_is_its_fixed_prefix(tree: Path) -> None:
    jobs = plan([str(tree / "in" / "sub" / "**" / "*.*")], tree / "out", "png")
    rel = sorted(str(j.target.relative_to(tree / "out")) for j in jobs)
    assert "deeper/c.out.png" in rel and "b.out.png" in rel


@pytest.mark.parametrize(
    ("inputs", "output", "says"),
    [
        (["in"], None, "need -o DIR"),
        (["in/a.jpg", "in/sub/b.png"], None, "need -o DIR"),
        (["in"], "in/a.jpg", "expected a folder for several inputs, got a file"),
        (["in/*.gif"], "out", "no image files found"),
    ],
    ids=["folder-without-o", "two-files-without-o", "o-is-a-file", "glob-matches-nothing"],
)
def test_usage_errors(tree: Path, inputs: list[str], output: str | None, says: str) -> None:
    with pytest.raises(UsageError, match=None) as info:
        plan([str(tree / i) for i in inputs], tree / output if output else None, "png")
    assert says in str(info.value)


def test_one_file_into_a_new_folder(tree: Path) -> None:
    src = tree / "in" / "a.jpg"
    assert plan([str(src)], tree / "new", "png") == [Job(src, tree / "new" / "a.out.png")]


@pytest.mark.parametrize(
    ("requested", "output", "expected"),
    [
        (None, "x.webp", "webp"),
        (None, "x.JPEG", "jpg"),
        (None, None, "png"),
        ("png", "x.webp", "png"),
        (None, "x.tif", "png"),
    ],
)
def test_output_format(requested: str | None, output: str | None, expected: str) -> None:
    assert output_format(requested, Path(output) if output else None) == expected
