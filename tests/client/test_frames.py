"""``python -m client frames``: raw RGB24 frames in, results out in order; against the real
server (the session's ``triton_server``: every test here runs u2netp), in-process unless the
process boundary is the point."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from client.cli import build_parser, output_options
from client.errors import FrameFailed
from client.frames import cut_stream
from client.rawvideo import FrameReader
from tests import clip
from tests.cli_run import ROOT, assert_one_line_error, run_cli
from u2net.errors import InvalidImage
from u2net.options import OutputOptions

MODEL = ["-m", "u2netp"]
WIDTH, HEIGHT = clip.SIZE
SIZE_ARGS = [str(WIDTH), str(HEIGHT)]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def url(triton_server) -> str:
    return triton_server.grpc_url


def alpha(image: Image.Image) -> np.ndarray:
    return np.asarray(image.getchannel("A") if image.mode == "RGBA" else image, dtype=np.int16)


def split_pngs(data: bytes) -> list[Image.Image]:
    """Concatenated PNG files, one by one (walking their chunks up to each IEND)."""
    images, at = [], 0
    while at < len(data):
        assert data[at : at + 8] == PNG_SIGNATURE, f"no PNG starts at byte {at}"
        end, kind = at + 8, b""
        while kind != b"IEND":
            length, kind = int.from_bytes(data[end : end + 4], "big"), data[end + 4 : end + 8]
            end += 12 + length
        images.append(Image.open(io.BytesIO(data[at:end])))
        at = end
    return images


def test_frames_named_from_zero_equal_cut_of_each_frame(url: str, tmp_path: Path) -> None:
    frames = clip.pan_frames(4)
    photos = tmp_path / "photos"
    photos.mkdir()
    for index, frame in enumerate(frames):
        frame.save(photos / f"{index:02d}.png")
    pattern = tmp_path / "out" / "f-%03d.png"  # the folder is made, as rembg b does
    stream = [*SIZE_ARGS, "-o", pattern, *MODEL, "--concurrency", "4"]
    done = run_cli("client", "frames", *stream, "--url", url, input=clip.raw_stream(frames))
    assert done.returncode == 0, done.stderr
    assert "done 4 frames" in done.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [f"f-{i:03d}.png" for i in range(len(frames))]
    cut = run_cli("client", "cut", photos, "-o", tmp_path / "cut", *MODEL, "--url", url, "-q")
    assert cut.returncode == 0, cut.stderr
    for index in range(len(frames)):
        got = alpha(Image.open(tmp_path / "out" / f"f-{index:03d}.png"))
        expected = alpha(Image.open(tmp_path / "cut" / f"{index:02d}.out.png"))
        assert np.abs(got - expected).max() <= 1, index
    first, last = (alpha(Image.open(tmp_path / "out" / n)) for n in (names[0], names[-1]))
    assert np.abs(first - last).max() > 10  # the zoom changes the mask: order is checked


def test_stdout_carries_pngs_or_raw_frames_in_order(url: str) -> None:
    frames = clip.raw_stream(clip.pan_frames(3))
    common = [*SIZE_ARGS, *MODEL, "--url", url, "-q"]
    pngs = split_pngs(run_cli("client", "frames", *common, input=frames).stdout)
    raw = run_cli("client", "frames", *common, "--raw", input=frames).stdout
    masks = run_cli("client", "frames", *common, "--raw", "-om", input=frames).stdout
    assert [(p.format, p.mode, p.size) for p in pngs] == [("PNG", "RGBA", clip.SIZE)] * 3
    rgba = np.frombuffer(raw, np.uint8).reshape(3, HEIGHT, WIDTH, 4)
    grey = np.frombuffer(masks, np.uint8).reshape(3, HEIGHT, WIDTH)
    for png, raw_frame, mask in zip(pngs, rgba, grey, strict=True):
        np.testing.assert_allclose(alpha(png), raw_frame[..., 3], atol=1)
        np.testing.assert_allclose(mask, raw_frame[..., 3], atol=1)


def test_a_short_last_frame_is_one_error_after_the_complete_frames(
    url: str, tmp_path: Path
) -> None:
    data = clip.raw_stream(clip.pan_frames(2)) + b"\x00" * 1000
    pattern = tmp_path / "f-%d.png"
    done = run_cli("client", "frames", *SIZE_ARGS, "-o", pattern, *MODEL, "--url", url, input=data)
    assert_one_line_error(done, "frame 2 is incomplete", "expected 57,600 bytes", "got 1,000")
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["f-0.png", "f-1.png"]


@pytest.mark.parametrize(
    "flags",
    [
        ["-m", "u2netp", "-om"],
        ["--composite", "rembg", "-bgc", "0", "0", "255", "255", "--format", "jpg"],
        ["--bgcolor", "10,20,30,128", "--format", "webp", "-ppm"],
        ["-a", "-ae", "15", "--composite", "straight", "--png-compression", "6"],
    ],
    ids=["mask", "rembg-jpg", "webp", "matting"],
)
def test_frames_take_the_same_output_options_as_cut(flags: list[str]) -> None:
    parser = build_parser()
    cut = parser.parse_args(["cut", "photo.png", *flags])
    frames = parser.parse_args(["frames", *SIZE_ARGS, *flags])
    assert output_options(frames) == output_options(cut) != OutputOptions()
    assert frames.model == cut.model


class StandIn:
    """A stand-in for the server: every mask is opaque."""

    concurrency = 2

    def connect(self) -> str:
        return "stand-in"

    def masked(self, image: Image.Image) -> tuple[Image.Image, np.ndarray]:
        return image, np.full((320, 320), 255, np.uint8)


def test_a_long_stream_is_read_only_a_few_frames_ahead_of_what_is_written() -> None:
    count, size = 50, (4, 2)
    reader = FrameReader(io.BytesIO(bytes(range(24)) * count), *size)
    ahead: list[int] = []

    class Sink:
        def write(self, index: int, data: bytes) -> None:
            ahead.append(reader.count - index)
            assert data[:4] == bytes([0, 1, 2, 255])  # the frame's own first pixel, opaque

    cutter = StandIn()
    summary = cut_stream(cutter, reader, Sink(), OutputOptions(), raw=True)
    assert summary.frames == count
    assert max(ahead) <= 2 * cutter.concurrency  # memory bounded by --concurrency


class Scripted(StandIn):
    """A stand-in whose masks alternate between clear and opaque, and which fails on one
    frame (by the frame's first byte, its index)."""

    def __init__(self, fails_on: int | None = None) -> None:
        self.fails_on = fails_on

    def masked(self, image: Image.Image) -> tuple[Image.Image, np.ndarray]:
        index = image.getpixel((0, 0))[0]
        if index == self.fails_on:
            raise InvalidImage("not a frame this stand-in takes")
        return image, np.full((320, 320), 255 * (index % 2), np.uint8)


def numbered_frames(count: int, size: tuple[int, int] = (4, 2)) -> FrameReader:
    data = b"".join(bytes([i]) * (size[0] * size[1] * 3) for i in range(count))
    return FrameReader(io.BytesIO(data), *size)


class Collect:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def write(self, index: int, data: bytes) -> None:
        assert index == len(self.frames)
        self.frames.append(data)


def test_a_failed_frame_stops_the_stream_after_every_frame_before_it() -> None:
    sink = Collect()
    keep_rgb = OutputOptions(composite="straight")  # the first byte stays the frame's index
    with pytest.raises(FrameFailed, match=r"^frame 5: not a frame this stand-in takes$"):
        cut_stream(Scripted(fails_on=5), numbered_frames(12), sink, keep_rgb, raw=True)
    assert [data[0] for data in sink.frames] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(("smooth", "alphas"), [(1, [0, 255, 0, 255]), (2, [0, 128, 128, 128])])
def test_smoothing_averages_each_mask_with_the_ones_before(smooth: int, alphas: list[int]) -> None:
    sink = Collect()
    options = OutputOptions(only_mask=True)
    cut_stream(Scripted(), numbered_frames(4), sink, options, raw=True, smooth=smooth)
    assert [data[0] for data in sink.frames] == alphas


def test_a_closed_stdout_ends_quietly_with_exit_141(url: str) -> None:
    """``frames ... | head -c 1``: the reader goes away; no traceback, the shell's SIGPIPE
    code. (A real process: what is at stake is the process's own stdout and exit.)"""
    command = [sys.executable, "-m", "client", "frames", *SIZE_ARGS, *MODEL, "--url", url]
    process = subprocess.Popen(
        command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.close()  # the only reader of its stdout is gone before any frame
    _out, err = process.communicate(clip.raw_stream(clip.pan_frames(2)), timeout=120)
    assert process.returncode == 141, err.decode()
    assert err == b""


@pytest.fixture(scope="module")
def ffmpeg() -> str:
    path = clip.ffmpeg()
    if path is None:
        pytest.skip("ffmpeg is not installed (Debian: apt-get install ffmpeg; .ci/run does it)")
    return path


def test_ffmpeg_clip_through_frames_to_webm_with_alpha(
    url: str, ffmpeg: str, tmp_path: Path
) -> None:
    """The documented pipeline, as real processes: ffmpeg decodes an H.264 clip to RGB24,
    ``frames --raw`` cuts it, ffmpeg encodes VP9 WebM with alpha; decoded again, the WebM
    has every frame, a see-through background and an opaque astronaut."""
    count = 6  # half a second of clip: every frame through both ffmpegs and the cut
    source = clip.make_clip(tmp_path / "clip.mp4", clip.pan_frames(count))
    webm = tmp_path / "cut.webm"
    size = f"{WIDTH}x{HEIGHT}"
    pipeline = (
        f"{ffmpeg} -v error -i {source} -an -f rawvideo -pix_fmt rgb24 pipe:1"
        f" | {sys.executable} -m client frames {WIDTH} {HEIGHT} --raw -m u2netp --url {url} -q"
        f" | {ffmpeg} -v error -f rawvideo -pix_fmt rgba -s {size} -r {clip.FPS} -i pipe:0"
        f" -c:v libvpx-vp9 -pix_fmt yuva420p {webm}"
    )
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", pipeline],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    decode = [ffmpeg, "-v", "error", "-c:v", "libvpx-vp9", "-i", webm]  # libvpx keeps alpha
    decode += ["-f", "rawvideo", "-pix_fmt", "rgba", "pipe:1"]
    decoded = subprocess.run(decode, capture_output=True, check=True).stdout
    frames = np.frombuffer(decoded, np.uint8).reshape(-1, HEIGHT, WIDTH, 4)
    assert len(frames) == count
    alphas = frames[..., 3]
    assert (alphas[:, HEIGHT // 2, WIDTH // 2] > 200).all()  # the astronaut, in the middle
    for frame_alpha in alphas:  # each frame has both a background and a subject
        assert (frame_alpha < 16).mean() > 0.1 and (frame_alpha > 240).mean() > 0.1
