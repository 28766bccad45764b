"""The `cutout` model measured: instance count, server-side vs client-side cut, memory.

    .venv/bin/python bench/cutout.py                      # u2net_onnx, the default model
    .venv/bin/python bench/cutout.py --model u2netp_onnx --instances 1,2,3

For each `cutout` instance count, a real `python -m server` serves a temporary repository
(the inner model's folder linked, `cutout`'s config edited). The same photos go through
`python -m client cut`'s two paths under the same load:
  client-side  decode, resize, compose and encode in this process; only the tensor is sent
  server-side  the file's bytes go to `cutout`, which does everything (``--server-side``)
at a small size (astronaut, 512x512 PNG) and a large one (the same photo scaled to 12 MP,
JPEG). Then the server's resident memory (tritonserver + every backend stub) is sampled
during a soak of concurrent 12 MP uploads: start, peak, end. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from google.protobuf import text_format
from PIL import Image

from client.cutout import ServerSideCutter
from client.cutter import Cutter
from client.load.loadgen import Window, drive
from server.embedded import RunningServer, start
from u2net.contract import CUTOUT
from u2net.options import OutputOptions
from u2net.report import table
from u2net.repository.layout import (
    CONFIG_FILE,
    CUSTOM_CONFIGS_DIR,
    VERSION_DIR,
    default_repository,
    read_config,
)
from u2net.samples import PROBE_NAME, sample_photos

sys.path.insert(0, str(Path(__file__).parent))
from served_vs_plain import variant_repo

LARGE = (4000, 3000)  # 12 MP
PAGE_KB = 4  # /proc/<pid>/statm counts pages
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # /proc/<pid>/stat counts CPU time in these


def make_photos(folder: Path) -> dict[str, Path]:
    astronaut = sample_photos((PROBE_NAME,))[0]
    large = folder / "astronaut-12mp.jpg"
    Image.open(astronaut).convert("RGB").resize(LARGE, Image.Resampling.LANCZOS).save(
        large, quality=92
    )
    return {"512x512 PNG": astronaut, "4000x3000 JPEG": large}


def inner_with_threads(folder: Path, inner: str, intra: int, spinning: int | None = None) -> None:
    """``inner`` with ``intra_op_thread_count`` (0: a thread per core, the committed setting)
    and, unless None, ``allow_spinning`` set in both its configurations; its version folder
    linked."""
    source = default_repository() / inner
    target = folder / inner
    customs = source.glob(f"{CUSTOM_CONFIGS_DIR}/*.pbtxt")
    for relative in [Path(CONFIG_FILE), *(c.relative_to(source) for c in customs)]:
        config = read_config(source / relative)
        config.parameters["intra_op_thread_count"].string_value = str(intra)
        if spinning is not None:
            config.parameters["allow_spinning"].string_value = str(spinning)
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_text(text_format.MessageToString(config))
    (target / VERSION_DIR).symlink_to((source / VERSION_DIR).resolve(), target_is_directory=True)


def cutout_repository(
    folder: Path, inner: str, instances: int, intra: int, spinning: int | None = None
) -> Path:
    """A repository with ``inner`` (``intra`` threads, ``spinning``) and ``cutout``
    (``instances``)."""

    def edit(config: object) -> None:
        config.instance_group[0].count = instances  # type: ignore[attr-defined]

    variant_repo(folder, CUTOUT.name, edit)
    inner_with_threads(folder, inner, intra, spinning)
    return folder


@contextmanager
def serving(
    inner: str, instances: int, intra: int = 0, spinning: int | None = None
) -> Iterator[RunningServer]:
    with tempfile.TemporaryDirectory(prefix="bench-cutout-") as tmp:
        repository = cutout_repository(Path(tmp), inner, instances, intra, spinning)
        server = start(["--model-repository", str(repository), "--models", inner], timeout=300)
        try:
            yield server
        finally:
            server.stop()


def tree_pids(root: int) -> set[int]:
    """``root`` and all its descendants (read from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    family, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parents.items() if ppid in family} - family
        family |= more
        grew = bool(more)
    return family


def part_of(pid: int) -> str:
    """What a process of Triton's tree is: "python -m server", "tritonserver", or the model a
    Python-backend stub serves ("stub cutout"), read from its command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    name = Path(argv[0].decode()).name
    if b"-m" in argv[:-1]:  # python -m server, the wrapper that started tritonserver
        return f"python -m {argv[argv.index(b'-m') + 1].decode()}"
    if "stub" not in name:
        return name
    # argv[1]: the model's file in its version folder (model.py, or model.onnx for a backend)
    return f"stub {Path(argv[1].decode()).parent.parent.name}" if len(argv) > 1 else name


def rss_by_part_mb(root: int) -> dict[str, float]:
    """Resident memory of ``root``'s tree, summed per :func:`part_of` (two ``cutout``
    instances' stubs are one part)."""
    parts: dict[str, float] = {}
    for pid in tree_pids(root):
        try:
            kb = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
        except (OSError, IndexError):
            continue
        part = part_of(pid)
        parts[part] = parts.get(part, 0.0) + kb / 1024
    return parts


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by ``root`` and its living descendants."""
    ticks = 0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    return ticks / CLOCK_TICKS


def tree_rss_mb(root: int) -> float:
    """Resident memory of ``root`` and all its descendants (read from /proc)."""
    total_kb = 0
    for pid in tree_pids(root):
        try:
            total_kb += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB
        except (OSError, IndexError):
            continue
    return total_kb / 1024


def measure(cut: Callable[[Path, OutputOptions], bytes], photo: Path, c: int, n: int) -> Window:
    options = OutputOptions()
    drive(lambda _i: cut(photo, options), c, c)  # warm-up
    return drive(lambda _i: cut(photo, options), n, c)


def row(label: str, window: Window) -> list[object]:
    errors = f" ({len(window.errors)} errors: {window.errors[0]})" if window.errors else ""
    return [
        label + errors,
        window.percentile_ms(50),
        window.percentile_ms(95),
        window.throughput,
    ]


def compare_paths(url: str, model: str, photos: dict[str, Path], args) -> list[list[object]]:
    rows = []
    for c in args.concurrency:
        local = Cutter(url, model, concurrency=c)
        remote = ServerSideCutter(url, model, concurrency=c)
        with local, remote:
            for size, photo in photos.items():
                for path, cutter in (("client-side", local), ("server-side", remote)):
                    window = measure(cutter.cut_file, photo, c, args.requests)
                    rows.append([size, c, *row(path, window)])
                    print(rows[-1], file=sys.stderr, flush=True)
    return rows


def soak(server: RunningServer, model: str, photo: Path, args) -> list[float]:
    """Concurrent 12 MP uploads for ``--soak-seconds``; RSS sampled every second."""
    samples = [tree_rss_mb(server.process.pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            samples.append(tree_rss_mb(server.process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    options = OutputOptions()
    with ServerSideCutter(server.grpc_url, model, concurrency=args.soak_concurrency) as remote:
        window = drive(
            lambda _i: remote.cut_file(photo, options),
            10**9,
            args.soak_concurrency,
            seconds=args.soak_seconds,
        )
    stop.set()
    sampler.join()
    print(f"soak: {len(window.latencies_s)} requests, {len(window.errors)} errors", file=sys.stderr)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="u2net_onnx", help="inner served model")
    parser.add_argument("--instances", default="1,2", help="cutout instance counts to try")
    parser.add_argument("--concurrency", default="1,4", help="requests in flight")
    parser.add_argument("--requests", type=int, default=12, help="requests per cell")
    parser.add_argument(
        "--intra-threads",
        type=int,
        default=0,
        help="the inner model's intra_op_thread_count (0: one per core, the committed one)",
    )
    parser.add_argument("--soak-seconds", type=float, default=180.0)
    parser.add_argument("--soak-concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-photos-") as tmp:
        photos = make_photos(Path(tmp))
        for instances in (int(i) for i in args.instances.split(",")):
            with serving(args.model, instances, args.intra_threads) as server:
                rows = compare_paths(server.grpc_url, args.model, photos, args)
                threads = args.intra_threads or "one per core"
                print(f"\n{args.model} ({threads} intra-op threads), cutout instances: {instances}")
                print(table(["photo", "concurrency", "path", "p50 ms", "p95 ms", "img/s"], rows))
                if instances == int(args.instances.split(",")[-1]) and args.soak_seconds > 0:
                    samples = soak(server, args.model, photos["4000x3000 JPEG"], args)
                    print(
                        f"\nserver RSS (MB) during {args.soak_seconds:.0f} s of 12 MP uploads "
                        f"at concurrency {args.soak_concurrency}, {instances} instances:"
                    )
                    print(
                        table(["start", "peak", "end"], [[samples[0], max(samples), samples[-1]]])
                    )
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
