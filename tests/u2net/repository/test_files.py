"""md5_of against hashlib on whole bytes, across its block boundary."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from u2net.repository.files import md5_of


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, 1 << 20, (3 << 20) + 7])
def test_md5_of_equals_the_md5_of_the_whole_file(tmp_path: Path, size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert md5_of(path) == hashlib.md5(data).hexdigest()
