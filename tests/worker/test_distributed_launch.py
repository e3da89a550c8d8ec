"""The launcher's pieces: the torchrun command line, and naming the rank that failed."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from models.config import TrainConfig
from worker.distributed_launch import RankWatch, failed_rank, torchrun_command
from worker.rank import SIGTERM_LINE

SUMMARY = """worker.rank FAILED
------------------------------------------------------
Failures:
[1]:
  time      : 2026-12-01_22:53:15
  rank      : 0 (local_rank: 0)
  exitcode  : 75 (pid: 11)
  error_file: <N/A>
  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html
------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-12-01_22:53:15
  rank      : 3 (local_rank: 1)
  exitcode  : -9 (pid: 12)  (SIGKILL)
  error_file: <N/A>
  traceback : Signal 9 (SIGKILL) received by PID 12
"""


def test_the_rank_that_failed_is_named_not_the_ones_it_stopped() -> None:
    assert failed_rank("noise\n" + SUMMARY) == "rank 3 failed: Signal 9 (SIGKILL) received by PID 12"
    only_rank_0 = SUMMARY.replace("exitcode  : -9", "exitcode  : 75").replace(
        "exitcode  : 75 (pid: 11)", "exitcode  : 1 (pid: 11)"
    )
    assert failed_rank(only_rank_0).startswith("rank 0 failed: exit code 1 (its traceback is in ranks.log)")
    assert failed_rank("Killed\n").startswith("torchrun ended without naming a failed rank (Killed)")


def test_one_host_is_standalone_and_several_meet_at_the_rendezvous() -> None:
    one = torchrun_command(TrainConfig(batch_size=8, world_size=4, device="cuda"), 7, "h:1")
    assert one[1:] == [
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "4",
        "--standalone",
        "--max-restarts",
        "0",
        "-m",
        "worker.rank",
        "7",
        "h:1",
        "cuda",
    ]
    two = torchrun_command(
        TrainConfig(batch_size=8, world_size=8, nnodes=2, rendezvous="gpu1:29400"), 7, "h:1"
    )
    assert " ".join(two[3:13]) == (
        "--nproc-per-node 4 --nnodes 2 --rdzv-backend c10d --rdzv-endpoint gpu1:29400 --rdzv-id pokegan-run-7"
    )


BOTH_KILLED = """worker.rank FAILED
------------------------------------------------------
Failures:
[1]:
  time      : 2026-12-01_23:40:02
  rank      : 0 (local_rank: 0)
  exitcode  : -9 (pid: 11)  (SIGKILL)
  error_file: <N/A>
  traceback : Signal 9 (SIGKILL) received by PID 11
------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-12-01_23:40:02
  rank      : 1 (local_rank: 1)
  exitcode  : -9 (pid: 12)  (SIGKILL)
  error_file: <N/A>
  traceback : Signal 9 (SIGKILL) received by PID 12
"""


def test_a_rank_killed_after_torchruns_sigterm_is_not_the_one_that_failed() -> None:
    """Both ranks end with SIGKILL when torchrun escalates on a SIGTERMed rank that did not stop in time; the
    rank that logged torchrun's SIGTERM only stopped because the other one had failed."""
    assert failed_rank(BOTH_KILLED).startswith("rank 0 failed: Signal 9")  # nothing tells them apart
    log = f"rank 0 pid 11 run 1\nrank 1 pid 12 run 1\n{SIGTERM_LINE} 0\n{BOTH_KILLED}"
    assert failed_rank(log) == "rank 1 failed: Signal 9 (SIGKILL) received by PID 12"


def test_the_rank_the_task_saw_go_first_is_named_whatever_torchrun_says() -> None:
    assert failed_rank(BOTH_KILLED, first_gone="1") == "rank 1 failed: Signal 9 (SIGKILL) received by PID 12"
    assert failed_rank(BOTH_KILLED, first_gone="0").startswith("rank 0 failed")


def _sleepers(n: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen(["sleep", "60"]) for _ in range(n)]


def test_the_watch_names_the_rank_process_that_exits_first(tmp_path: Path) -> None:
    log_path = tmp_path / "ranks.log"
    log_path.write_text("rank 0 pid 1 run 7\nrank 1 pid 2 run 7\n")  # an earlier launch of the run
    start = log_path.stat().st_size
    ranks = _sleepers(3)
    try:
        lines = [f"rank {rank} pid {p.pid} run 7" for rank, p in enumerate(ranks)]
        log_path.write_text(log_path.read_text() + "\n".join(lines) + "\n")
        watch = RankWatch(log_path, start, 7, 3)
        watch.wait(0.05)
        assert watch.first_gone is None and not watch.decided
        ranks[2].kill()
        time.sleep(0.2)
        ranks[0].kill()  # gone by now too, but after rank 2
        watch.wait(0.05)
        assert watch.first_gone == "2"
    finally:
        watch.close()
        for process in ranks:
            process.kill()
            process.wait()


def test_the_watch_names_no_rank_when_it_cannot_order_them(tmp_path: Path) -> None:
    log_path = tmp_path / "ranks.log"
    ranks = _sleepers(2)
    try:
        log_path.write_text("".join(f"rank {rank} pid {p.pid} run 7\n" for rank, p in enumerate(ranks)))
        watch = RankWatch(log_path, 0, 7, 2)
        watch.wait(0.01)
        for process in ranks:
            process.kill()
            process.wait()
        watch.wait(0.5)
        assert watch.decided and watch.first_gone is None  # both were gone at one look
    finally:
        watch.close()
