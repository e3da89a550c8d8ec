"""The two Celery tasks. Thin shims: the work lives in worker/training.py and worker/importing.py."""

from __future__ import annotations

import os

from celery import Celery

from core.queue import IMPORT_TASK, TRAIN_TASK
from core.settings import Settings
from worker.context import WorkerContext
from worker.lifecycle import install_lifecycle


def register_tasks(celery: Celery, settings: Settings) -> WorkerContext:
    """Register "pokegan.train_run" and "pokegan.import_dataset" on `celery`, bound to `settings`."""
    context = WorkerContext(settings)

    @celery.task(name=TRAIN_TASK, ignore_result=True)
    def train_run(run_id: int) -> None:
        from worker.training import run_training  # torch is imported in the worker only, on first task

        _fit_torch_threads()

        run_training(context.settings, context.session_factory, run_id, shutdown=context.shutdown)

    @celery.task(name=IMPORT_TASK, ignore_result=True)
    def import_dataset(dataset_id: int) -> None:
        from worker.importing import run_import

        run_import(context.settings, context.session_factory, dataset_id, shutdown=context.shutdown)

    install_lifecycle(celery, context)
    return context


def _fit_torch_threads() -> None:
    """Training threads: the cores the web process leaves (models.device.training_threads), unless the
    operator pinned them with OMP_NUM_THREADS, which torch already follows (the tests' workers use 1)."""
    if os.environ.get("OMP_NUM_THREADS"):
        return
    import torch

    from models.device import training_threads

    torch.set_num_threads(training_threads())
