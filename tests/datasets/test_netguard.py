"""Which addresses and URLs a CSV import may fetch."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from datasets import UrlRefused, check_url, is_public_address


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "198.18.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo wrapping 127.0.0.1
    ],
)
def test_private_reserved_and_disguised_addresses(address: str) -> None:
    assert not is_public_address(address)


def resolver(table: dict[str, list[str]]) -> Callable[[str], list[str]]:
    """A fake DNS: name resolution is the boundary the address checks sit behind."""

    def resolve(host: str) -> list[str]:
        if host not in table:
            raise OSError(f"unknown host {host}")
        return table[host]

    return resolve


def test_check_url_uses_the_resolver_and_refuses_any_private_answer() -> None:
    dns = resolver({"cdn.example": ["93.184.216.34"], "rebind.example": ["93.184.216.34", "10.0.0.7"]})
    checked = check_url("https://cdn.example/a.png", allow_private=False, resolver=dns)
    assert checked.addresses == ["93.184.216.34"]
    with pytest.raises(UrlRefused, match=r"private or reserved address \(10.0.0.7\)"):
        check_url("https://rebind.example/a.png", allow_private=False, resolver=dns)
    assert (
        check_url("https://rebind.example/a.png", allow_private=True, resolver=dns).addresses[1] == "10.0.0.7"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://cdn.example/a.png", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("http://127.0.0.1:8000/a.png", "private or reserved"),
        ("http://[::1]/a.png", "private or reserved"),
        ("http://nowhere.example/a.png", "Could not resolve"),
        ("http:///a.png", "no host"),
    ],
)
def test_refused_urls(url: str, message: str) -> None:
    with pytest.raises(UrlRefused, match=message):
        check_url(url, allow_private=False, resolver=resolver({}))
