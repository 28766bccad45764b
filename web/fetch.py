"""Fetching an image by URL (``--allow-url-fetch``) without becoming a proxy into the network.

Only http(s) to public addresses: loopback, private, link-local, multicast, reserved and
unspecified addresses are refused, IPv4 inside IPv6 (mapped, 6to4, Teredo, NAT64) included.
The check runs on the address actually connected to (a resolver that filters what DNS says,
so a name cannot be re-resolved elsewhere in between), for literal addresses, and again for
every redirect (followed by hand, at most ``max_redirects``). Bytes and time are capped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from web.config import FetchPolicy
from web.errors import BadRequest, WebError
from web.uploads import too_large

log = logging.getLogger(__name__)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECTS = {301, 302, 303, 307, 308}
CHUNK = 64 * 1024
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# a host of numbers and dots only (hex with 0x): an address to inet_aton, never a name
NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?", re.I)
KINDS = ("loopback", "link_local", "multicast", "unspecified", "private", "reserved")  # 1st wins


def embedded_ipv4(address: Address) -> Address:
    """The IPv4 address an IPv6 transition address carries, else the address itself."""
    if not isinstance(address, ipaddress.IPv6Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def refusal(address: Address) -> str | None:
    """Why ``address`` is not public (e.g. "loopback"), or None when it is."""
    for candidate in (embedded_ipv4(address), address):
        for kind in KINDS:
            if getattr(candidate, f"is_{kind}"):
                return kind.replace("_", "-")
    return None


def check_address(address: Address, policy: FetchPolicy) -> None:
    reason = None if policy.exempt(address) else refusal(address)
    if reason is not None:
        raise BadRequest(f"image URL: expected a public address, got {address} ({reason})")


def numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host of numbers spells in the forms inet_aton reads (``127.1``,
    ``0x7f.1``, ``2130706433``, ``0177.0.0.1``, a trailing dot), or None for a name."""
    if not NUMERIC_HOST.fullmatch(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host.removesuffix(".")))
    except OSError:
        return None


def host_address(host: str) -> Address | None:
    """The address a literal host spells, in any spelling; None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return numeric_ipv4(host)


def connected_host(url: str) -> str:
    """The host as aiohttp connects to it: yarl's, after IDNA and NFKC (``127。0。0。1`` and
    ``①②⑦.0.0.1`` are 127.0.0.1 there, so checking the text as written would miss them)."""
    expected = f"image URL: expected an http(s) URL with a host, got {url[:200]!r}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  # read for its ValueError: not a number, or not 0..65535
        host = URL(url).host
    except (ValueError, UnicodeError) as e:  # "http://[", a host NFKC turns into URL syntax
        raise BadRequest(f"{expected}: {e}") from e
    if parts.scheme not in ("http", "https") or not host:
        raise BadRequest(expected)
    return host


def check_url(url: str, policy: FetchPolicy) -> str:
    """The URL's host; a literal address (in any spelling) is checked here, a name by the
    resolver. An address spelled other than aiohttp connects to (``a.b.c.d``) is refused."""
    host = connected_host(url)
    address = host_address(host)
    if address is None:
        return host
    if host == str(address):
        check_address(address, policy)
        return host
    try:
        check_address(address, policy)
    except BadRequest as e:
        raise BadRequest(f"{e} for {host}") from e
    if isinstance(address, ipaddress.IPv4Address):  # aiohttp refuses other spellings
        raise BadRequest(f"image URL: expected an IPv4 address written {address}, got {host!r}")
    return host


class PublicResolver(AbstractResolver):
    """Resolves with the system's resolver and refuses the name if any address is not public."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self.refused: BadRequest | None = None

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, family=family, type=socket.SOCK_STREAM
        )
        found = []
        for fam, _type, proto, _name, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            try:
                check_address(address, self.policy)
            except BadRequest as e:
                self.refused = BadRequest(f"{e} for {host}")
                raise OSError(str(self.refused)) from e
            found.append(
                {"hostname": host, "host": str(address), "port": port, "family": fam,
                 "proto": proto, "flags": socket.AI_NUMERICHOST}
            )  # fmt: skip
        return found

    async def close(self) -> None:
        return None


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    if response.content_length is not None and response.content_length > max_bytes:
        raise too_large(max_bytes, f"a URL of {response.content_length:,} bytes")
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes, "a URL with more bytes than that")
        chunks.append(chunk)
    return b"".join(chunks)


async def _follow(session: aiohttp.ClientSession, url: str, policy: FetchPolicy, cap: int) -> bytes:
    current = url
    for _ in range(policy.max_redirects + 1):
        check_url(current, policy)
        async with session.get(current, allow_redirects=False) as response:
            if response.status in REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise BadRequest(f"image URL: redirect {response.status} without a Location")
                current = urljoin(current, location)
                log.debug("image URL redirected to %s", current)
                continue
            if response.status != 200:
                raise BadRequest(f"image URL: expected status 200, got {response.status}")
            return await _read_capped(response, cap)
    raise BadRequest(f"image URL: expected at most {policy.max_redirects} redirects, got more")


async def fetch_image(url: str, policy: FetchPolicy, max_bytes: int) -> bytes:
    """The bytes at ``url``, or a WebError saying in one line why not."""
    if not policy.enabled:
        raise BadRequest("fetching images by URL is off on this server (--allow-url-fetch)")
    resolver = PublicResolver(policy)
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
    timeout = aiohttp.ClientTimeout(total=policy.timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        try:
            return await asyncio.wait_for(
                _follow(session, url, policy, max_bytes), policy.timeout_s
            )
        except WebError:
            raise
        except asyncio.TimeoutError as e:
            raise BadRequest(f"image URL: expected an answer within {policy.timeout_s:g}s") from e
        except (aiohttp.ClientError, OSError, ValueError) as e:  # yarl's: a host idna refuses
            if resolver.refused is not None:
                raise resolver.refused from e
            raise BadRequest(f"image URL: cannot fetch it: {e}") from e
