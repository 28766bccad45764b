"""Stand-ins for the network sources of ``convert/fetch.py``, all on this machine.

- :func:`serve_mirror`: a loopback HTTP server (stdlib, in a thread) playing rembg's release
  URL; each path answers as its :class:`Route` says (404 by default) and every request is
  recorded, so a test can tell whether the URL source was asked at all.
- :func:`build_wheel`: a minimal but valid wheel, so ``pip download --no-index
  --find-links DIR`` accepts it exactly as it would accept the PyPI one.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

POLL_S = 0.01  # how often the server's thread looks for a shutdown request


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    declared_length: int | None = None  # a Content-Length larger than body: a cut-off download
    midway: Callable[[], None] | None = None  # runs once the first half of body has been sent


@dataclass
class Mirror:
    url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    @property
    def release_template(self) -> str:
        """A value for ``U2NET_RELEASE_URL``."""
        return self.url + "/release/{name}.onnx"

    @staticmethod
    def release_path(name: str) -> str:
        return f"/release/{name}.onnx"


@contextmanager
def serve_mirror() -> Iterator[Mirror]:
    mirror = Mirror()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            mirror.requests.append(self.path)
            route = mirror.routes.get(self.path, Route(404, b"no such file\n"))
            self.send_response(route.status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(route.declared_length or len(route.body)))
            self.end_headers()
            half = len(route.body) // 2 if route.midway else len(route.body)
            self.wfile.write(route.body[:half])
            self.wfile.flush()
            if route.midway:
                route.midway()
                self.wfile.write(route.body[half:])

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    mirror.url = f"http://127.0.0.1:{server.server_address[1]}"
    # shutdown() waits for serve_forever's next poll: 0.5 s by default, on every test
    thread = threading.Thread(target=server.serve_forever, args=(POLL_S,), daemon=True)
    thread.start()
    try:
        yield mirror
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def build_wheel(folder: Path, requirement: str, members: dict[str, bytes]) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` holding ``members`` into ``folder``.

    ``requirement`` is ``name==version``; the wheel has the METADATA, WHEEL and RECORD files
    pip checks.
    """
    name, version = requirement.split("==")
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        **members,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: u2net-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = [f"{path},sha256={_digest(data)},{len(data)}" for path, data in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,", ""]).encode()
    path = Path(folder) / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for member, data in files.items():
            wheel.writestr(member, data)
    return path


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
