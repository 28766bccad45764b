"""One HTTP call to Triton on a client that is closed afterwards.

Triton counts an open HTTP keep-alive connection as an in-flight request: a server stopped
while one is open waits out its 30-s exit timeout. gRPC connections do not hold it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import tritonclient.http as httpclient

T = TypeVar("T")


def over_http(url: str, call: Callable[[httpclient.InferenceServerClient], T]) -> T:
    with httpclient.InferenceServerClient(url) as client:
        return call(client)
