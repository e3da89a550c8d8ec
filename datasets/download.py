"""Downloading one image URL: every redirect hop re-checked, retries with backoff, size and time limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx

from datasets.errors import UrlRefused
from datasets.kinds import SNIFF_BYTES, sniff_image_format
from datasets.limits import DatasetLimits, format_bytes
from datasets.netguard import CheckedUrl, Resolver, check_url
from datasets.pipeline import DecodeSpec, check_image
from datasets.streams import CHUNK_BYTES, SizeLimitExceeded, copy_limited

MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}
USER_AGENT = "pokegan-dataset-import/0.1"


class DownloadFailed(Exception):
    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


class DownloadAborted(Exception):
    pass


@dataclass(frozen=True)
class Downloaded:
    path: Path
    format: str
    size: int


def make_client(limits: DatasetLimits, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """One client shared by the download threads; redirects are followed by hand, env proxies ignored
    (a proxy would defeat the address checks)."""
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(limits.download_timeout_s),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=2 * limits.download_concurrency),
    )


class Downloader:
    def __init__(
        self, client: httpx.Client, limits: DatasetLimits, resolver: Resolver, abort: threading.Event
    ) -> None:
        self._client = client
        self._limits = limits
        self._resolver = resolver
        self._abort = abort
        self._decode_spec = DecodeSpec(limits.max_image_pixels, limits.max_svg_bytes)

    def fetch(self, url: str, dest: Path) -> Downloaded:
        """Download url into dest, retrying 5xx/429/timeouts with exponential backoff; check the image."""
        attempts = self._limits.download_retries + 1
        for attempt in range(attempts):
            if self._abort.is_set():
                raise DownloadAborted
            try:
                size = self._attempt(url, dest)
                break
            except DownloadAborted:
                dest.unlink(missing_ok=True)
                raise
            except DownloadFailed as failure:
                dest.unlink(missing_ok=True)
                if not failure.retryable or attempt == attempts - 1:
                    suffix = f" after {attempts} attempts" if failure.retryable and attempts > 1 else ""
                    raise DownloadFailed(failure.reason + suffix) from None
                if self._abort.wait(self._limits.download_backoff_s * 2**attempt):
                    raise DownloadAborted from None
        return Downloaded(dest, self._validate(dest), size)

    def _attempt(self, url: str, dest: Path) -> int:
        current: str | httpx.URL = url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                checked = check_url(
                    current, allow_private=self._limits.allow_private_urls, resolver=self._resolver
                )
            except UrlRefused as refusal:
                raise DownloadFailed(f"refused: {refusal}") from None
            try:
                with closing(self._send(checked)) as response:
                    location = self._redirect_target(response, checked.url)
                    if location is None:
                        return self._save(response, dest)
                    current = location
            except httpx.TimeoutException:
                raise DownloadFailed("timed out", retryable=True) from None
            except httpx.TransportError as error:
                raise DownloadFailed(f"connection failed ({type(error).__name__})", retryable=True) from None
            except (httpx.HTTPError, httpx.InvalidURL) as error:
                raise DownloadFailed(f"bad response ({error})") from None
        raise DownloadFailed(f"more than {MAX_REDIRECTS} redirects")

    def _send(self, checked: CheckedUrl) -> httpx.Response:
        # Connect to the address that was checked; Host and TLS SNI still name the original host.
        host = checked.url.raw_host.decode("ascii")
        extensions = {"sni_hostname": host} if checked.url.scheme == "https" else {}
        headers = {"Host": checked.url.netloc.decode("ascii")}
        error: httpx.TransportError | None = None
        for address in checked.addresses:
            request = self._client.build_request(
                "GET", checked.url.copy_with(host=address), headers=headers, extensions=extensions
            )
            try:
                return self._client.send(request, stream=True)
            except httpx.ConnectError as connect_error:
                error = connect_error
        assert error is not None
        raise error

    @staticmethod
    def _redirect_target(response: httpx.Response, url: httpx.URL) -> httpx.URL | None:
        """The next hop's URL for a redirect, None for a 200; other statuses fail."""
        status = response.status_code
        if status in _REDIRECTS:
            location = response.headers.get("location")
            if not location:
                raise DownloadFailed(f"HTTP {status} without a Location header")
            # Relative to the URL as written, not to the pinned address the request went to.
            return url.join(location)
        if status == 429 or status >= 500:
            raise DownloadFailed(f"HTTP {status}", retryable=True)
        if status != 200:
            raise DownloadFailed(f"HTTP {status}")
        return None

    def _save(self, response: httpx.Response, dest: Path) -> int:
        limit = self._limits.max_download_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise DownloadFailed(f"larger than {format_bytes(limit)}")
        try:
            with open(dest, "wb") as out:
                return copy_limited(self._chunks(response), out, limit)
        except SizeLimitExceeded:
            raise DownloadFailed(f"larger than {format_bytes(limit)}") from None

    def _chunks(self, response: httpx.Response) -> Iterator[bytes]:
        # httpx's timeout is per read; a server trickling bytes could stay under it forever.
        deadline = time.monotonic() + self._limits.download_deadline_s
        for chunk in response.iter_bytes(CHUNK_BYTES):
            if self._abort.is_set():
                raise DownloadAborted
            if time.monotonic() > deadline:
                raise DownloadFailed("timed out", retryable=True)
            yield chunk

    def _validate(self, path: Path) -> str:
        with open(path, "rb") as f:
            image_format = sniff_image_format(f.read(SNIFF_BYTES))
        reason = check_image(path, self._decode_spec) if image_format else "not an image"
        if reason:
            path.unlink(missing_ok=True)
            raise DownloadFailed(reason)
        assert image_format is not None
        return image_format
