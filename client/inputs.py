"""Which files to cut and where each result goes (pure path logic, no I/O beyond listing)."""

from __future__ import annotations

import glob
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from u2net.errors import UsageError
from u2net.image.decode import register_heif
from u2net.options import DEFAULTS

GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


def _image_suffixes() -> set[str]:
    register_heif()  # .heic/.heif count as images in a folder too
    return {ext.lower() for ext in Image.registered_extensions()}


def expand(inputs: list[str]) -> tuple[list[tuple[Path, Path]], bool]:
    """Inputs -> (file, path relative to its root) pairs; True if a folder or glob was given.

    Folders are walked recursively for image files; a glob's root is its fixed prefix.
    A plain path that does not exist is kept, so that it is reported as a failure.
    """
    found: list[tuple[Path, Path]] = []
    many = len(inputs) > 1
    suffixes = _image_suffixes()
    for text in inputs:
        path = Path(text)
        if GLOB_CHARS & set(text):
            many = True
            root = Path(*[p for p in path.parts if not GLOB_CHARS & set(p)][: _fixed(path)])
            for hit in sorted(glob.glob(text, recursive=True)):
                if Path(hit).is_file():
                    found.append((Path(hit), Path(hit).relative_to(root)))
        elif path.is_dir():
            many = True
            for hit in sorted(path.rglob("*")):
                if hit.is_file() and hit.suffix.lower() in suffixes:
                    found.append((hit, hit.relative_to(path)))
        else:
            found.append((path, Path(path.name)))
    return found, many


def _fixed(path: Path) -> int:
    """How many leading parts of ``path`` contain no glob characters."""
    for i, part in enumerate(path.parts):
        if GLOB_CHARS & set(part):
            return i
    return len(path.parts)


SUFFIX_FORMATS = {".png": "png", ".webp": "webp", ".jpg": "jpg", ".jpeg": "jpg"}


def output_format(requested: str | None, output: Path | None) -> str:
    """--format if given, else what ``-o name.webp`` says, else png."""
    if requested is not None:
        return requested
    if output is not None and not output.is_dir():
        return SUFFIX_FORMATS.get(output.suffix.lower(), DEFAULTS.fmt)
    return DEFAULTS.fmt


def plan(inputs: list[str], output: Path | None, fmt: str) -> list[Job]:
    """Map every input file to its output file; raises UsageError for impossible requests."""
    found, many = expand(inputs)
    if not found:
        raise UsageError(f"no image files found in {' '.join(inputs)}")
    ext = "." + fmt
    if not many:
        ((source, _rel),) = found
        if output is None:
            target = source.with_name(source.stem + ".out" + ext)
        elif output.is_dir() or not output.suffix:  # `-o out/`: a folder, made if needed
            target = output / (source.stem + ".out" + ext)
        else:
            target = output
        return [Job(source, target)]
    if output is None:
        raise UsageError("several inputs or a folder need -o DIR for the results")
    if output.exists() and not output.is_dir():
        raise UsageError(f"-o {output}: expected a folder for several inputs, got a file")
    targets = [rel.with_name(rel.stem + ".out" + ext) for _src, rel in found]
    clashes = {t for t, n in Counter(targets).items() if n > 1}
    return [
        Job(src, output / (rel.with_name(rel.name + ".out" + ext) if t in clashes else t))
        for (src, rel), t in zip(found, targets, strict=True)
    ]


def image_paths(inputs: list[str]) -> list[Path]:
    """Files and folders -> image files; none at all is a usage error."""
    paths = [path for path, _rel in expand(inputs)[0]]
    if not paths:
        raise UsageError(f"no image files found in {' '.join(inputs)}")
    return paths
