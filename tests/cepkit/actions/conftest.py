"""Fake remote services (see tests/fakes.py) and a dispatcher factory over them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cepkit.actions import Dispatcher
from cepkit.channels import ChannelConfig
from cepkit.channels.http import HttpClient
from cepkit.clock import FakeClock
from tests.fakes import FakeSleep, http, service, sleep, smtp, smtp_ssl, smtp_starttls, tls

__all__ = [
    "channels",
    "dispatcher",
    "http",
    "make_dispatcher",
    "service",
    "sleep",
    "smtp",
    "smtp_ssl",
    "smtp_starttls",
    "tls",
]

MakeDispatcher = Callable[..., Dispatcher]


@pytest.fixture
def channels() -> dict[str, ChannelConfig]:
    """The configured channels by canonical name (tests add to it)."""
    return {}


@pytest.fixture
def make_dispatcher(
    http: HttpClient, clock: FakeClock, sleep: FakeSleep, channels: dict[str, ChannelConfig]
) -> MakeDispatcher:
    """Builds dispatchers on the fake clock and sleep; keyword arguments override."""

    def build(**overrides: Any) -> Dispatcher:
        options: dict[str, Any] = {
            "client": http,
            "channels": channels.get,
            "clock": clock,
            "sleep": sleep,
            **overrides,
        }
        return Dispatcher(**options)

    return build


@pytest.fixture
def dispatcher(make_dispatcher: MakeDispatcher) -> Dispatcher:
    """A dispatcher with the defaults (in-memory breakers, default target policy)."""
    return make_dispatcher()
