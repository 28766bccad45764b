"""Locust users for bench/web.py: each POSTs one photo to ``/api/remove`` and waits for it.

Settings come from the environment (set by bench/web.py): BENCH_PHOTO, BENCH_MODEL.
"""

from __future__ import annotations

import os
from pathlib import Path

from locust import HttpUser, task

PHOTO = Path(os.environ["BENCH_PHOTO"])
DATA = PHOTO.read_bytes()
MODEL = os.environ.get("BENCH_MODEL", "u2net")


class Uploader(HttpUser):
    wait_time = staticmethod(lambda: 0)  # closed loop: the next request as soon as one ends

    @task
    def remove(self) -> None:
        files = {"file": (PHOTO.name, DATA, "image/jpeg")}
        with self.client.post(
            "/api/remove", files=files, data={"model": MODEL}, name="POST /api/remove",
            timeout=600, catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code == 200:
                response.success()
            else:
                response.failure(f"HTTP {response.status_code}")
