"""Is the database reachable, and is the broker? Used by GET /healthz."""

from __future__ import annotations

import tempfile
from urllib.parse import urlparse

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.settings import Settings

BROKER_TIMEOUT_S = 1.0


def check_database(session: Session) -> str:
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not reachable" here
        session.rollback()
        return f"error: {_short(exc)}"
    return "ok"


def check_broker(settings: Settings) -> str:
    try:
        if urlparse(settings.resolved_broker_url).scheme == "filesystem":
            _check_folder_writable(settings)
            return "ok"
        from core.broker import broker_connection  # the URL Celery uses, kombu-only options removed

        url, _ = broker_connection(settings)
        if urlparse(url).scheme in ("redis", "rediss"):
            _check_redis(url)
        else:
            _check_kombu(url)
    except Exception as exc:
        return f"error: {_short(exc)}"
    return "ok"


def _check_folder_writable(settings: Settings) -> None:
    settings.broker_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=settings.broker_dir, prefix=".healthz-"):
        pass


def _check_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(
        url, socket_timeout=BROKER_TIMEOUT_S, socket_connect_timeout=BROKER_TIMEOUT_S
    )
    try:
        client.ping()
    finally:
        client.close()


def _check_kombu(url: str) -> None:
    from kombu import Connection

    with Connection(url, connect_timeout=BROKER_TIMEOUT_S) as connection:
        connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)


def _short(exc: Exception) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0][:200]
