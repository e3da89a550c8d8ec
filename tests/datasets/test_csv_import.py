"""CSV imports against a real local HTTP server: retries, limits, redirects, address checks, resume."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from datasets import DatasetLimits, import_csv, list_raw_images, read_import_state

from .factories import write
from .http_server import ImageHost, RouteTo, serve

FAST = {
    "download_timeout_s": 0.5,
    "download_deadline_s": 5.0,
    "download_retries": 2,
    "download_backoff_s": 0.01,
    "max_download_bytes": 50_000,
    "max_image_pixels": 1_000_000,
}
LOCAL = DatasetLimits(allow_private_urls=True, **FAST)  # the test server is on 127.0.0.1
PUBLIC_ONLY = DatasetLimits(allow_private_urls=False, **FAST)
FAKE_PUBLIC_IP = "93.184.216.34"


@pytest.fixture
def host() -> Iterator[ImageHost]:
    with serve() as image_host:
        yield image_host


def csv_of(tmp_path: Path, urls: list[str], names: list[str] | None = None) -> Path:
    names = names or [""] * len(urls)
    body = "".join(f"{url},{name}\n" for url, name in zip(urls, names, strict=True))
    return write(tmp_path / "cards.csv", f"image_url,name\n{body}".encode())


def test_good_bad_and_flaky_urls_are_reported(tmp_path: Path, host: ImageHost) -> None:
    paths = [
        "/img/red.png",
        "/missing.png",
        "/flaky.png",
        "/always-500.png",
        "/huge.png",
        "/page.html",
        "/redirect-relative",
        "/redirect-loop",
    ]
    csv = csv_of(tmp_path, [host.base + p for p in paths], ["Pikachu", "", "", "", "", "", "", ""])
    progress: list[tuple[int, int]] = []

    report = import_csv(
        csv, tmp_path / "raw", LOCAL, progress=lambda done, total: progress.append((done, total))
    )

    assert sorted(report.files) == ["00001-pikachu.png", "00003-flaky.png", "00007-redirect-relative.png"]
    assert {name.split(" ")[1]: reason for name, reason in report.skipped} == {
        "2": "HTTP 404",
        "4": "HTTP 503 after 3 attempts",
        "5": "larger than 48.8 KiB",
        "6": "not an image",
        "8": "more than 5 redirects",
    }
    assert host.hits["/flaky.png"] == 2  # retried once after the 500
    assert host.hits["/always-500.png"] == 3
    assert host.hits["/missing.png"] == 1  # a 404 is not retried
    assert progress[0] == (0, 8) and progress[-1] == (8, 8)
    assert [p.name for p in list_raw_images(tmp_path / "raw")] == sorted(report.files)
    assert not [p for p in (tmp_path / "raw").iterdir() if p.name.startswith(".part")]
    assert read_import_state(tmp_path / "raw")[host.base + "/img/red.png"]["name"] == "Pikachu"


def test_slow_server_times_out_after_retries(tmp_path: Path, host: ImageHost) -> None:
    limits = DatasetLimits(
        allow_private_urls=True, **{**FAST, "download_timeout_s": 0.2, "download_retries": 1}
    )
    report = import_csv(csv_of(tmp_path, [host.base + "/slow.png"]), tmp_path / "raw", limits)
    assert report.accepted == 0
    assert report.skipped[0].reason == "timed out after 2 attempts"


def test_private_addresses_are_refused_unless_allowed(tmp_path: Path, host: ImageHost) -> None:
    report = import_csv(csv_of(tmp_path, [host.base + "/img/0.png"]), tmp_path / "raw", PUBLIC_ONLY)
    assert report.accepted == 0
    assert "private or reserved address (127.0.0.1)" in report.skipped[0].reason
    assert host.hits["/img/0.png"] == 0  # refused before connecting


def test_public_host_is_fetched_from_the_checked_address_with_its_host_name(
    tmp_path: Path, host: ImageHost
) -> None:
    url = f"http://images.example:{host.port}/img/blue.png"
    report = import_csv(
        csv_of(tmp_path, [url]),
        tmp_path / "raw",
        PUBLIC_ONLY,
        resolver=lambda name: [FAKE_PUBLIC_IP],
        transport=RouteTo(host.port),
    )
    assert report.files == ["00001-blue.png"]
    assert host.hosts == [f"images.example:{host.port}"]


def test_redirect_to_a_private_address_is_refused_at_the_hop(tmp_path: Path, host: ImageHost) -> None:
    url = f"http://images.example:{host.port}/redirect-private"
    report = import_csv(
        csv_of(tmp_path, [url]),
        tmp_path / "raw",
        PUBLIC_ONLY,
        resolver=lambda name: [FAKE_PUBLIC_IP],
        transport=RouteTo(host.port),
    )
    assert report.accepted == 0
    assert "private or reserved address (127.0.0.1)" in report.skipped[0].reason
    assert host.hits["/redirect-private"] == 1
    assert host.hits["/img/0.png"] == 0


def test_interrupted_import_resumes_without_downloading_again(tmp_path: Path, host: ImageHost) -> None:
    urls = [f"{host.base}/img/{i}.png" for i in range(8)]
    csv = csv_of(tmp_path, urls)
    raw = tmp_path / "raw"
    limits = DatasetLimits(allow_private_urls=True, **{**FAST, "download_concurrency": 1})
    done = [0]

    first = import_csv(
        csv, raw, limits, progress=lambda n, total: done.__setitem__(0, n), should_abort=lambda: done[0] >= 3
    )

    assert first.aborted
    assert 3 <= first.accepted < 8
    second = import_csv(csv, raw, limits)
    assert not second.aborted
    assert second.already_present == first.accepted
    assert second.accepted == 8 - first.accepted
    assert len(list_raw_images(raw)) == 8
    first_urls = {url for url, entry in read_import_state(raw).items() if entry["file"] in first.files}
    assert len(first_urls) == first.accepted
    assert all(host.hits[url.removeprefix(host.base)] == 1 for url in first_urls)


def test_size_budget_stops_the_import(tmp_path: Path, host: ImageHost) -> None:
    one_image = len(host.images["0.png"])
    limits = DatasetLimits(
        allow_private_urls=True,
        max_total_uncompressed_bytes=2 * one_image + 10,
        **{**FAST, "download_concurrency": 1},
    )
    report = import_csv(
        csv_of(tmp_path, [f"{host.base}/img/{i}.png" for i in range(5)]), tmp_path / "raw", limits
    )
    assert report.accepted == 2
    assert {reason for _, reason in report.skipped} == {"dataset size limit reached"}
    assert len(report.skipped) == 3
