"""Which URLs an import may fetch: http(s) only, and by default only hosts on public addresses.

The resolved addresses are returned so the download connects to exactly the address that was checked
(no second DNS lookup an attacker could answer differently).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from datasets.errors import UrlRefused

Resolver = Callable[[str], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class CheckedUrl:
    url: httpx.URL
    addresses: list[str]


def system_resolver(host: str) -> list[str]:
    """All addresses the OS resolver gives for host, in its order."""
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public_address(address: str | IPAddress) -> bool:
    """False for loopback, private, link-local, multicast, reserved, shared and documentation ranges,
    including IPv4 addresses hidden inside IPv6 (mapped, 6to4, Teredo, NAT64)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return is_public_address(embedded)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local)


def check_url(
    url: str | httpx.URL, *, allow_private: bool, resolver: Resolver = system_resolver
) -> CheckedUrl:
    """Parse, check the scheme, resolve the host and refuse non-public addresses unless allowed."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise UrlRefused(f"{url} is not a valid URL.") from error
    if parsed.scheme not in ("http", "https"):
        raise UrlRefused(f"{url}: only http and https URLs are allowed.")
    if not parsed.host:
        raise UrlRefused(f"{url} has no host name.")
    addresses = _resolve(parsed.raw_host.decode("ascii"), resolver)
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise UrlRefused(f"{parsed.host} resolves to a private or reserved address ({address}).")
    return CheckedUrl(parsed, addresses)


def _resolve(host: str, resolver: Resolver) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        addresses = resolver(host)
    except (OSError, UnicodeError) as error:
        raise UrlRefused(f"Could not resolve {host}.") from error
    if not addresses:
        raise UrlRefused(f"Could not resolve {host}.")
    return addresses


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None
