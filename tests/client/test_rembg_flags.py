"""rembg's command lines, as its README and ``--help`` write them, work on our CLI.

rembg ``i`` and ``p`` become ``cut`` (their output path, positional in rembg, is our ``-o``),
rembg ``b`` becomes ``frames``; every flag is passed as rembg spells it.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from client.cli import build_parser, output_options
from client.cli import main as client_main
from tests import clip
from tests.cli_run import run_cli
from tests.data import PHOTOS
from u2net.image.matting import MattingOptions

COMMANDS = {"i": "cut", "p": "cut", "b": "frames"}

# rembg's documented command lines (README: rembg i/p/b; the alpha-matting example of
# rembg 2.0's README; the flags of `rembg i --help`), each with what it must set.
DOCUMENTED = [
    ("rembg i path/to/input.png path/to/output.png", {}),
    ("rembg i -m u2netp path/to/input.png path/to/output.png", {"model": "u2netp"}),
    ("rembg i -om path/to/input.png path/to/output.png", {"only_mask": True}),
    ("rembg i -a path/to/input.png path/to/output.png", {"matting": MattingOptions()}),
    (
        "rembg i -a -ae 15 path/to/input.png path/to/output.png",
        {"matting": MattingOptions(erode_size=15)},
    ),
    (
        "rembg i -m u2netp -a -af 230 -ab 20 -ae 11 path/to/input.png path/to/output.png",
        {"model": "u2netp", "matting": MattingOptions(230, 20, 11)},
    ),
    ("rembg i -ppm path/to/input.png path/to/output.png", {"post_process": True}),
    (
        "rembg i -bgc 255 255 255 255 path/to/input.png path/to/output.png",
        {"bgcolor": (255, 255, 255, 255)},
    ),
    ("rembg p path/to/input path/to/output", {}),
    ("rembg b 1280 720 -o folder/output-%03u.png", {"width": 1280, "height": 720}),
]


def ours(rembg_line: str) -> list[str]:
    """Our argv for a rembg command line."""
    _rembg, command, *rest = shlex.split(rembg_line)
    if command == "b":
        return ["frames", *rest]
    *flags_and_input, output = rest
    return ["cut", *flags_and_input, "-o", output]


@pytest.mark.parametrize(("line", "expected"), DOCUMENTED, ids=[d[0] for d in DOCUMENTED])
def test_rembg_documented_lines_parse_to_the_same_request(line: str, expected: dict) -> None:
    args = build_parser().parse_args(ours(line))
    options = output_options(args)
    wanted = {"model": "u2net", "only_mask": False, "matting": None, "post_process": False}
    wanted |= {"bgcolor": None, **expected}
    for name, value in wanted.items():
        got = getattr(args, name) if name in ("model", "width", "height") else None
        got = got if got is not None else getattr(options, name, None)
        assert got == value, name


def test_help_shows_rembg_spellings_beside_ours() -> None:
    for command in ("cut", "frames"):
        text = run_cli("client", command, "--help").stdout
        for both in ("-m MODEL, --model MODEL", "-om, --only-mask", "-ppm, --post-process-mask"):
            assert both in text, (command, both)
        assert "-a, --alpha-matting" in text and "-bgc R G B A" in text and "--bgcolor" in text


@pytest.fixture(scope="module")
def url(both_models_server) -> str:
    return both_models_server.grpc_url


def test_rembg_i_mask_line_runs(url: str, tmp_path: Path) -> None:
    photo = next(p for p in PHOTOS if p.name == "chelsea.png")
    line = f"rembg i -m u2netp -om {photo} {tmp_path / 'mask.png'}"
    done = run_cli("client", *ours(line), "--url", url, "-q")
    assert done.returncode == 0, done.stderr
    mask = Image.open(tmp_path / "mask.png")
    assert mask.mode == "L" and mask.size == Image.open(photo).size


def test_rembg_b_readme_line_runs(url: str, tmp_path: Path) -> None:
    """README's ``rembg b 1280 720 -o folder/output-%03u.png``, with rembg's default model."""
    frames = clip.raw_stream(clip.pan_frames(1, (1280, 720)))
    argv = ours("rembg b 1280 720 -o folder/output-%03u.png")
    argv[argv.index("-o") + 1] = str(tmp_path / "folder" / "output-%03u.png")
    done = run_cli("client", *argv, "--url", url, "-q", input=frames)
    assert done.returncode == 0, done.stderr
    written = sorted((tmp_path / "folder").iterdir())
    assert [p.name for p in written] == ["output-000.png"]
    alpha = np.asarray(Image.open(written[0]).getchannel("A"))
    assert alpha.shape == (720, 1280) and alpha.min() == 0 and alpha.max() == 255


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (
            """rembg i -m u2net_custom -x '{"model_path": "~/.u2net/mine.onnx"}' in.png out.png""",
            "python -m convert custom NAME --family u2net --source ~/.u2net/mine.onnx, then"
            " --model NAME",
        ),
        (
            "rembg i -m dis_custom in.png out.png",
            "python -m convert custom NAME --family isnet --source FILE.onnx",
        ),
        (
            """rembg i -x '{"sam_prompt": []}' in.png out.png""",
            "-x: expected it only with -m u2net_custom or dis_custom (model_path), got"
            " sam_prompt with -m u2net",
        ),
    ],
    ids=["u2net_custom", "dis_custom", "other-extras"],
)
def test_rembgs_custom_sessions_say_how_to_stage_the_file_here(
    line: str, says: str, capsys
) -> None:
    """rembg loads a custom file in every run; here it is staged once: exit 2, one line."""
    words = shlex.split(line)
    argv = [COMMANDS[words[1]], *words[2:-1], "-o", words[-1]]
    assert client_main(argv) == 2
    assert says in capsys.readouterr().err.strip().splitlines()[-1]
