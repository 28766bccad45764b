"""A real video clip, made on the machine: a slow zoom into scikit-image's astronaut,
as raw RGB24 frames (Pillow) and as an H.264 file (Debian's ``ffmpeg``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from PIL import Image

from client.rawvideo import INPUT_MODE, INPUT_PIX_FMT
from u2net.samples import sample_photos

PHOTO = "astronaut.png"  # 512x512: a person in a space suit before a flag and a shuttle
FRAMES = 12
SIZE = (160, 120)
FPS = 12
ZOOM_PER_FRAME = 0.02


def ffmpeg() -> str | None:
    return shutil.which("ffmpeg")


def pan_frames(count: int = FRAMES, size: tuple[int, int] = SIZE) -> list[Image.Image]:
    """``count`` frames zooming slowly into the photo's centre, each ``size`` (4:3)."""
    photo = Image.open(sample_photos((PHOTO,))[0]).convert(INPUT_MODE)
    width, height = photo.size
    full_w = min(width, height * size[0] // size[1])
    full_h = full_w * size[1] // size[0]
    frames = []
    for index in range(count):
        zoom = 1 + ZOOM_PER_FRAME * index
        w, h = full_w / zoom, full_h / zoom
        box = ((width - w) / 2, (height - h) / 2, (width + w) / 2, (height + h) / 2)
        frames.append(photo.resize(size, Image.Resampling.LANCZOS, box=box))
    return frames


def raw_stream(frames: list[Image.Image]) -> bytes:
    """The frames as ffmpeg's ``-f rawvideo -pix_fmt rgb24`` writes them."""
    return b"".join(frame.tobytes() for frame in frames)


def make_clip(path: Path, frames: list[Image.Image], fps: int = FPS, noise: int = 0) -> Path:
    """Encode ``frames`` as an H.264 MP4 (yuv420p), the kind of file users start from;
    ``noise``: ffmpeg's temporal noise of that strength, a camera sensor's grain."""
    width, height = frames[0].size
    command = [ffmpeg() or "ffmpeg", "-v", "error", "-y", "-f", "rawvideo"]
    command += ["-pix_fmt", INPUT_PIX_FMT, "-s", f"{width}x{height}", "-r", str(fps)]
    command += ["-i", "pipe:0", *(["-vf", f"noise=alls={noise}:allf=t"] if noise else [])]
    command += ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(command, input=raw_stream(frames), check=True, capture_output=True)
    return path
