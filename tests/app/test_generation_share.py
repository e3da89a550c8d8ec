"""The "shared" /generate policy: normal priority while generation stays under its share, idle after."""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest
from fastapi.testclient import TestClient

from app.cpu_share import CpuWindow
from app.generator_cache import GenerationSlots


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_cpu_window_sums_the_cpu_of_jobs_that_ended_inside_it() -> None:
    clock = FakeClock()
    window = CpuWindow(10.0, clock=clock)
    window.add(1.0)
    clock.now += 4
    window.add(0.5)
    assert window.share() == pytest.approx(0.15)
    clock.now += 6  # the first job ended 10 s ago: out of the window
    assert window.share() == pytest.approx(0.05)
    clock.now += 5
    assert window.share() == 0.0


def burn_cpu(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def _policy_and_threads() -> tuple[int, int]:
    import torch

    return os.sched_getscheduler(threading.get_native_id()), torch.get_num_threads()


def test_shared_policy_holds_calls_past_its_share_until_the_window_frees_it() -> None:
    slots = GenerationSlots(2, policy="shared", torch_threads=1, share=0.05, window_s=1.0)
    web_policy = os.sched_getscheduler(threading.get_native_id())

    async def scenario() -> tuple[tuple[int, int], float, bool]:
        first = await slots.run(_policy_and_threads)
        await slots.run(lambda: time.sleep(0.3))  # waiting takes no CPU: still within the share
        assert not slots.throttled()
        await slots.run(lambda: burn_cpu(0.1))  # 10% of a core over the 1 s window > the 5% share
        assert slots.throttled() and slots.state()["throttled"]
        started = time.monotonic()
        await slots.run(lambda: None)
        return first, time.monotonic() - started, slots.throttled()

    (policy, threads), held, throttled_after = asyncio.run(scenario())
    assert policy == web_policy != os.SCHED_IDLE and threads == 1  # normal priority, one torch thread
    assert 0.8 < held < 1.5  # until the burning call left the 1 s window
    assert not throttled_after


def test_cpu_window_says_how_long_until_the_share_is_free() -> None:
    clock = FakeClock()
    window = CpuWindow(10.0, clock=clock)
    window.add(1.0)
    clock.now += 2
    window.add(2.0)
    assert window.wait_s(0.5) == 0.0  # 3 s of 5 allowed
    assert window.wait_s(0.25) == pytest.approx(8.0)  # once the first leaves (in 8 s) 2 s < the 2.5 allowed
    assert window.wait_s(0.2) == pytest.approx(10.0)  # 2 s is not below 2 s: the second must leave too


def test_state_counts_calls_waiting_and_running() -> None:
    slots = GenerationSlots(2, policy="normal")  # two threads
    release = threading.Event()

    async def scenario() -> dict:
        calls = [asyncio.ensure_future(slots.run(release.wait)) for _ in range(3)]
        await asyncio.sleep(0.2)
        seen = slots.state()
        release.set()
        await asyncio.gather(*calls)
        return seen

    seen = asyncio.run(scenario())
    assert (seen["running"], seen["waiting"]) == (2, 1)
    assert (slots.state()["running"], slots.state()["waiting"]) == (0, 0)


def test_generate_state_tells_a_waiting_page_what_the_server_does(client: TestClient) -> None:
    state = client.get("/generate/state", headers={"Accept": "application/json"})
    assert state.status_code == 200
    assert state.json() == {"waiting": 0, "running": 0, "limit": 2, "policy": "shared", "throttled": False}
