"""Starting the embedded Triton: a child that exits before its ready line is one
ServerStartError naming the child's last stderr line (the success path is every Triton test's
``triton_server``)."""

from __future__ import annotations

import pytest

from server.embedded import start
from u2net.errors import ServerStartError


def test_a_server_that_exits_before_ready_is_a_server_start_error() -> None:
    with pytest.raises(ServerStartError) as caught:
        start(["--models", "no_such_model"], timeout=120)
    message = str(caught.value)
    assert "-m server did not become ready: error: --models: expected model names" in message
    assert "got 'no_such_model'" in message
