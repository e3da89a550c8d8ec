"""Celery side of pokegan: the app, thin task shims, the DB sink and store, orchestration, recovery."""
