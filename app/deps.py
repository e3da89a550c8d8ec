"""FastAPI dependencies as `Annotated` aliases: routes read `session: SessionDep`; tests can override."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.generator_cache import GenerationSlots, GeneratorCache
from app.metrics_cache import MetricsCache
from core.db.session import session_scope
from core.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.sessionmaker) as session:
        yield session


def get_generator_cache(request: Request) -> GeneratorCache:
    return request.app.state.generators


def get_generation_slots(request: Request) -> GenerationSlots:
    return request.app.state.generation_slots


def get_metrics_cache(request: Request) -> MetricsCache:
    return request.app.state.metrics_cache


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
GeneratorCacheDep = Annotated[GeneratorCache, Depends(get_generator_cache)]
GenerationSlotsDep = Annotated[GenerationSlots, Depends(get_generation_slots)]
MetricsCacheDep = Annotated[MetricsCache, Depends(get_metrics_cache)]
