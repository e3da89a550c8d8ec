"""The Celery app's configuration and the web's enqueue functions (which must stay free of torch)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

from core.queue import IMPORT_TASK, TRAIN_TASK, enqueue_import, enqueue_train
from core.settings import Settings
from tests.worker.processes import ROOT
from worker.celery_app import REDIS_VISIBILITY_TIMEOUT_S, broker_connection, make_celery


def test_the_app_acks_late_runs_one_task_at_a_time_and_keeps_no_results(tmp_path: Path) -> None:
    celery = make_celery(Settings(data_dir=tmp_path, worker_queue="gpu0"))
    conf = celery.conf
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost, conf.task_ignore_result) == (
        True,
        True,
        True,
    )
    assert (conf.worker_prefetch_multiplier, conf.worker_concurrency, conf.worker_pool) == (1, 1, "solo")
    assert (conf.task_serializer, conf.accept_content) == ("json", ["json"])
    assert conf.task_routes == {TRAIN_TASK: {"queue": "gpu0"}, IMPORT_TASK: {"queue": "datasets"}}
    assert {TRAIN_TASK, IMPORT_TASK} <= set(celery.tasks)


def test_the_embedded_broker_lives_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    url, options = broker_connection(settings)
    assert url.startswith("filesystem://")
    assert options["data_folder_in"] == options["data_folder_out"]
    for key in ("data_folder_in", "processed_folder", "control_folder"):
        folder = Path(options[key])
        assert folder.is_dir() and folder.is_relative_to(settings.broker_dir)
    # claiming a message is a rename within one filesystem: two workers never get the same one
    assert options["store_processed"] is True


def test_a_redis_broker_gets_a_long_visibility_timeout_and_an_optional_key_prefix() -> None:
    url, options = broker_connection(Settings(broker_url="redis://cache:6379/2"))
    assert (url, options) == ("redis://cache:6379/2", {"visibility_timeout": REDIS_VISIBILITY_TIMEOUT_S})
    url, options = broker_connection(
        Settings(broker_url="redis://cache:6379/2?global_keyprefix=site-a:&ssl=0")
    )
    assert url == "redis://cache:6379/2?ssl=0"
    assert options["global_keyprefix"] == "site-a:"
    assert REDIS_VISIBILITY_TIMEOUT_S >= 12 * 3600


def _messages(settings: Settings) -> list[dict]:
    folder = settings.broker_dir / "messages"
    return [json.loads(path.read_text()) | {"file": path.name} for path in sorted(folder.glob("*.msg"))]


def test_enqueue_puts_task_messages_on_the_right_queues(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    train_id = enqueue_train(settings, 7)
    import_id = enqueue_import(settings, 3)
    messages = {m["headers"]["task"]: m for m in _messages(settings)}
    assert set(messages) == {TRAIN_TASK, IMPORT_TASK}
    train, load = messages[TRAIN_TASK], messages[IMPORT_TASK]
    assert (train["headers"]["id"], load["headers"]["id"]) == (train_id, import_id)
    assert train["file"].endswith(".train.msg") and load["file"].endswith(".datasets.msg")
    assert [json.loads(base64.b64decode(m["body"]))[0] for m in (train, load)] == [[7], [3]]


def test_enqueueing_does_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys; from core.settings import Settings; from core.queue import enqueue_train; "
        f"enqueue_train(Settings(data_dir={str(tmp_path)!r}), 1); print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
