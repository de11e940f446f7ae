"""The target policy on its own: networks, names, resolution."""

from __future__ import annotations

import pytest

from cepkit.actions import TargetPolicy
from cepkit.errors import ChannelError

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/",
        "https://169.254.1.1:8443/",
        "http://[fe80::abcd]/",
        "http://100.100.100.200/",
        "http://metadata.google.internal/",
        "http://METADATA.google.internal./",
        "http://0.0.0.0:9000/",
        "smtp://169.254.0.5:25",
    ],
)
async def test_denied_by_default(target: str) -> None:
    with pytest.raises(ChannelError, match="is denied"):
        await TargetPolicy().check(target)


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:8080/", "http://[::1]/", "https://10.0.0.5/", "smtp://[::1]:25"]
)
async def test_allowed_by_default(target: str) -> None:
    await TargetPolicy().check(target)


async def test_names_are_resolved_before_checking() -> None:
    with pytest.raises(ChannelError, match=r"target localhost is denied \(loopback\)"):
        await TargetPolicy(allow_loopback=False).check("http://localhost:9/")
    with pytest.raises(ChannelError, match="denied"):
        await TargetPolicy(deny=["127.0.0.0/8"]).check("http://localhost/")
    await TargetPolicy(deny=["127.0.0.0/8"], resolve=False).check("http://localhost/")


async def test_allow_list_patterns() -> None:
    policy = TargetPolicy(allow=["*.slack.com", "10.0.0.0/8"], resolve=False)
    await policy.check("https://hooks.slack.com/services/x")
    await policy.check("http://10.1.2.3/")
    with pytest.raises(ChannelError, match="not in the allow list"):
        await policy.check("https://slack.com.evil.example/")


async def test_deny_wins_over_allow() -> None:
    policy = TargetPolicy(allow=["169.254.0.0/16"])
    with pytest.raises(ChannelError, match="denied"):
        await policy.check("http://169.254.169.254/")


async def test_malformed_targets() -> None:
    with pytest.raises(ChannelError, match="no host"):
        await TargetPolicy().check("not a url")
    with pytest.raises(ChannelError, match="invalid port"):
        await TargetPolicy().check("http://example.com:99999/")


async def test_a_verdict_on_an_address_is_kept_and_a_name_is_checked_again() -> None:
    policy = TargetPolicy(allow_loopback=False)
    for _ in range(2):  # the second answer is the kept one: the same verdict, the same words
        with pytest.raises(ChannelError, match=r"^target 127.0.0.1 is denied \(loopback\)$"):
            await policy.check("http://127.0.0.1:9/hook")
        with pytest.raises(ChannelError, match=r"^target 169.254.169.254 is denied"):
            await policy.check("http://169.254.169.254/")
        await policy.check("https://10.0.0.5/")
        with pytest.raises(ChannelError, match=r"^target localhost is denied \(loopback\)$"):
            await policy.check("http://localhost:9/")
    kept = policy._known  # a name may resolve elsewhere next time: never kept
    assert sorted(kept) == [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/",
        "https://10.0.0.5/",
    ]
    assert kept["https://10.0.0.5/"] is None
