"""The one Settings object: environment variables with a POKEGAN_ prefix, built once at start-up."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POKEGAN_", extra="ignore", env_ignore_empty=True)

    data_dir: Path = Field(
        Path("data"), description="Database, datasets, run artifacts and the embedded broker"
    )
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file in data_dir")
    broker_url: str | None = Field(
        None, description="Celery broker URL; default: a filesystem broker in data_dir"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    api_token: str | None = Field(None, description="When set, every write and artifact download needs it")
    secret_key: str | None = Field(None, description="Signs session cookies; derived from api_token if unset")
    max_upload_mb: int = Field(512, ge=1)
    generate_max_n: int = Field(256, ge=1)
    generate_concurrency: int = Field(2, ge=1, description="Concurrent /generate calls before 429")
    generate_priority: Literal["shared", "idle", "low", "normal"] = Field(
        "shared",
        description="CPU priority of /generate (Linux): shared = normal priority, one call at a time, and a "
        "call waits while generation used more than generate_share of a core over generate_share_window_s; "
        "idle = only the CPU time training and the web app leave; low = nice 19; normal = as the web app",
    )
    generate_share: float = Field(
        0.15, gt=0, le=1, description="Share of one core's CPU time /generate may take (shared)"
    )
    generate_share_window_s: float = Field(
        10.0, gt=0, description="Seconds over which generate_share is measured"
    )
    generate_torch_threads: int = Field(1, ge=1, description="torch threads per /generate call")
    generator_cache_size: int = Field(4, ge=1, description="Generators kept loaded (LRU by checkpoint)")
    metrics_cache_runs: int = Field(8, ge=0, description="Runs whose metric rows the web app keeps in memory")
    metrics_cache_mb: int = Field(64, ge=0, description="Memory for those runs' metric rows (8 rows = 512 B)")
    device: str = Field("auto", description="auto, cpu or cuda: where the worker trains")
    worker_queue: str = Field("train", description="Celery queue this worker consumes (one per GPU)")
    heartbeat_interval_s: float = Field(5.0, gt=0)
    worker_lost_after_s: float = Field(
        60.0, gt=0, description="A running run with no heartbeat this long is interrupted"
    )
    inception_weights: Path | None = Field(
        None, description="Local Inception weights for FID/KID; none: no FID"
    )
    detectors: dict[str, Any] = Field(
        default_factory=dict,
        description='Failure-detector threshold overrides as JSON, e.g. {"window": 20}; '
        "names and defaults: models.monitoring.DetectorSettings (checked when a run starts)",
    )
    allow_private_urls: bool = Field(False, description="Let CSV imports fetch loopback/private addresses")
    folder_import_roots: list[Path] = Field(
        default_factory=list, description="Server folders datasets may import"
    )

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'pokegan.db').resolve()}"

    @cached_property
    def resolved_broker_url(self) -> str:
        return self.broker_url or "filesystem://"

    @property
    def broker_dir(self) -> Path:
        return (self.data_dir / "broker").resolve()

    @property
    def datasets_dir(self) -> Path:
        return (self.data_dir / "datasets").resolve()

    @property
    def runs_dir(self) -> Path:
        return (self.data_dir / "runs").resolve()

    def run_dir(self, run_id: int) -> Path:
        return self.runs_dir / str(run_id)

    def dataset_dir(self, dataset_id: int) -> Path:
        return self.datasets_dir / str(dataset_id)

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.datasets_dir, self.runs_dir, self.broker_dir):
            path.mkdir(parents=True, exist_ok=True)
