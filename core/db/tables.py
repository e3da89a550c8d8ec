"""The database schema (SQLAlchemy 2 ORM). Change it only together with an Alembic migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="importing")  # importing | ready | failed;
    # change only via core.dataset_status.transition
    source_kind: Mapped[str] = mapped_column(String(20))  # zip | tar | csv | images | folder
    image_count: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1 while importing
    skipped: Mapped[list[Any]] = mapped_column(default=list)  # [{"item": ..., "reason": ...}]
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prepare: Mapped[dict[str, Any]] = mapped_column(default=dict)  # preparation options chosen by the user
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    runs: Mapped[list[Run]] = relationship(back_populates="dataset")


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    preset: Mapped[str | None] = mapped_column(String(60))
    config: Mapped[dict[str, Any]] = mapped_column()
    # queued | running | completed | failed | cancelled | interrupted;
    # change only via core.run_status.transition
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    iteration: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int] = mapped_column(Integer, default=0)
    images_per_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    policy: Mapped[str] = mapped_column(String(20), default="warn")  # warn | stop | rollback
    # plain ids, not foreign keys: runs and checkpoints would reference each other in a cycle
    init_from_checkpoint_id: Mapped[int | None] = mapped_column(Integer)
    best_checkpoint_id: Mapped[int | None] = mapped_column(Integer)
    celery_task_id: Mapped[str | None] = mapped_column(String(64))
    # +1 in the same transaction as any deletion of this run's metric rows (worker/dbsink.py), so the web
    # app's metric cache (app/metrics_cache.py) can tell appended rows from rewritten ones
    metrics_generation: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # seconds spent running in earlier spells (a resume starts a new one) and when the current spell began;
    # elapsed time is their sum, without the time the run sat queued, cancelled or interrupted
    active_s: Mapped[float | None] = mapped_column(Float, default=0.0)
    running_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    dataset: Mapped[Dataset] = relationship(back_populates="runs")
    checkpoints: Mapped[list[Checkpoint]] = relationship(
        back_populates="run", foreign_keys="Checkpoint.run_id", cascade="all, delete-orphan"
    )


class Metric(Base):
    """One row per training step; (run, step) is unique and resuming replaces rows after the checkpoint."""

    __tablename__ = "metrics"
    __table_args__ = (UniqueConstraint("run_id", "step", name="uq_metrics_run_step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)
    iteration: Mapped[int] = mapped_column(Integer)
    loss_d: Mapped[float] = mapped_column(Float)
    loss_g: Mapped[float] = mapped_column(Float)
    d_x: Mapped[float] = mapped_column(Float)
    d_g_z1: Mapped[float] = mapped_column(Float)
    d_g_z2: Mapped[float] = mapped_column(Float)
    # series declared after these five, by name (core/db/metric_values.py); NULL when there are none
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Checkpoint(Base):
    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("run_id", "step", name="uq_checkpoints_run_step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    epoch: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    quality: Mapped[dict[str, Any]] = mapped_column(default=dict)  # per-epoch quality numbers, if measured
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    run: Mapped[Run] = relationship(back_populates="checkpoints", foreign_keys=[run_id])


class Grid(Base):
    """A fixed-noise sample grid saved at the end of an epoch."""

    __tablename__ = "grids"
    __table_args__ = (UniqueConstraint("run_id", "epoch", name="uq_grids_run_epoch"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    epoch: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)


class Event(Base):
    """A detection or an action worth a marker on the charts (saturation, collapse, NaN rollback, resume)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GradStat(Base):
    __tablename__ = "grad_stats"
    __table_args__ = (Index("ix_grad_stats_run_step", "run_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    net: Mapped[str] = mapped_column(String(1))
    layer: Mapped[str] = mapped_column(String(120))
    mean_abs: Mapped[float] = mapped_column(Float)
    max_abs: Mapped[float] = mapped_column(Float)
