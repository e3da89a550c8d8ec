"""The "shared" /generate policy: normal priority while generation stays under its share, idle after."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time

import pytest
from fastapi.testclient import TestClient

from app.cpu_share import CpuWindow
from app.generation import GenerationSlots


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


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread CPU priority is Linux only")
def test_shared_policy_runs_at_normal_priority_until_its_share_is_spent() -> None:
    slots = GenerationSlots(2, policy="shared", torch_threads=1, share=0.01, window_s=10.0)
    web_policy = os.sched_getscheduler(threading.get_native_id())

    async def scenario() -> list[tuple[int, int]]:
        first = await slots.run(_policy_and_threads)
        assert not slots.throttled()
        await slots.run(lambda: time.sleep(0.3))  # waiting takes no CPU: still within the share
        assert not slots.throttled()
        await slots.run(lambda: burn_cpu(0.2))  # 2% of a core over the 10 s window > the 1% share
        assert slots.throttled() and slots.state()["throttled"]
        return [first, await slots.run(_policy_and_threads)]

    (first_policy, first_threads), (after_policy, _) = asyncio.run(scenario())
    assert first_policy == web_policy != os.SCHED_IDLE and first_threads == 1
    assert after_policy == os.SCHED_IDLE
    assert slots.state() | {"throttled": None} == {
        "waiting": 0, "running": 0, "limit": 2, "policy": "shared", "throttled": None,
    }  # fmt: skip


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
