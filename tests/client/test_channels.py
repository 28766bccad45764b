"""A link's channels: renewed when due, the old one closed after its last call, never before."""

from __future__ import annotations

import itertools

from client.channels import Channels


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_channel_in_use_is_retired_only_after_its_last_call() -> None:
    clock, numbers = Clock(), itertools.count(1)
    channels = Channels(lambda: f"channel {next(numbers)}", renew_s=30.0, clock=clock)
    first = channels.acquire()
    clock.now = 29.9
    assert channels.acquire() == first  # not due yet
    assert channels.release(first) is None  # not retired: stays open
    clock.now = 30.0
    second = channels.acquire()  # due: a new channel, which resolves the name again
    assert second == "channel 2"
    assert channels.release(second) is None
    assert channels.release(first) == first  # its last call returned: close it now
    assert channels.all() == [second]


def test_without_an_interval_the_channel_is_never_renewed() -> None:
    clock, numbers = Clock(), itertools.count(1)
    channels = Channels(lambda: f"channel {next(numbers)}", renew_s=None, clock=clock)
    clock.now = 1e9
    channel = channels.acquire()
    assert channel == "channel 1" and channels.release(channel) is None
    assert channels.all() == ["channel 1"]


def test_closing_everything_includes_channels_still_retiring() -> None:
    clock, numbers = Clock(), itertools.count(1)
    channels = Channels(lambda: f"channel {next(numbers)}", renew_s=1.0, clock=clock)
    old = channels.acquire()
    clock.now = 1.0
    channels.release(channels.acquire())
    assert sorted(channels.all()) == ["channel 1", "channel 2"]
    assert old == "channel 1"
