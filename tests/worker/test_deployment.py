"""docker-compose.yml, the Dockerfile and .env.example, read as files (no Docker engine here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli import main as cli
from cli import serve, worker
from cli.worker import worker_argv
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTING_NAMES = {f"POKEGAN_{name.upper()}" for name in Settings.model_fields}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_web_worker_redis_and_postgres(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"web", "worker", "redis", "postgres"}
    assert set(compose["volumes"]) == {"artifacts", "postgres", "redis"}


def test_web_and_worker_run_the_entry_points_the_tests_run(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["web"]["command"] == ["pokegan", "serve", "--no-worker"]
    assert services["worker"]["command"] == ["pokegan", "worker"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["pokegan"] == "cli.main:main"  # tests start `python -m cli`, the same main()
    web_args = cli.build_parser().parse_args(services["web"]["command"][1:])
    worker_args = cli.build_parser().parse_args(services["worker"]["command"][1:])
    assert (web_args.handler, web_args.no_worker) == (serve.run, True)
    assert worker_args.handler is worker.run
    argv = worker_argv(Settings(), queues=worker_args.queues, hostname=None, loglevel="INFO")
    assert "--pool=solo" in argv and "--concurrency=1" in argv  # one training task at a time


def test_web_and_worker_share_the_database_broker_and_artifacts(compose: dict[str, Any]) -> None:
    for name in ("web", "worker"):
        service = compose["services"][name]
        env = service["environment"]
        assert set(env) <= SETTING_NAMES, f"{name}: unknown settings {set(env) - SETTING_NAMES}"
        assert env["POKEGAN_DATA_DIR"] == "/data"
        assert "artifacts:/data" in service["volumes"]
        assert re.fullmatch(
            r"postgresql\+psycopg://pokegan:.+@postgres:5432/pokegan", env["POKEGAN_DATABASE_URL"]
        )
        assert env["POKEGAN_BROKER_URL"].startswith("redis://redis:6379/")
        # compose refuses to start without a token
        assert re.fullmatch(r"\$\{POKEGAN_API_TOKEN:\?.+\}", env["POKEGAN_API_TOKEN"])
    assert compose["services"]["web"]["environment"]["POKEGAN_HOST"] == "0.0.0.0"
    assert compose["services"]["worker"]["environment"]["POKEGAN_DEVICE"] == "cuda"


def test_the_worker_reserves_an_nvidia_gpu(compose: dict[str, Any]) -> None:
    devices = compose["services"]["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]


def test_services_wait_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("web", "redis", "postgres"):
        assert services[name]["healthcheck"]["test"], name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    healthy = {"condition": "service_healthy"}
    assert services["web"]["depends_on"] == {"postgres": healthy, "redis": healthy}
    # the worker starts once the web has applied the migrations
    assert services["worker"]["depends_on"] == {"web": healthy, "postgres": healthy, "redis": healthy}
    assert "postgres:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "redis:/data" in services["redis"]["volumes"]


def test_the_image_is_a_cuda_pytorch_runtime_with_a_non_root_user_and_a_health_check() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTORCH_IMAGE=(\S+)$", dockerfile, re.MULTILINE).group(1)
    assert re.fullmatch(r"pytorch/pytorch:2\.14\.1-cuda[\d.]+-cudnn\d+-runtime", base)
    assert re.search(r"^RUN pip install -e \. ", dockerfile, re.MULTILINE)
    user = re.search(r"^USER (\S+)$", dockerfile, re.MULTILINE).group(1)
    assert user not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", dockerfile, re.MULTILINE)
    assert 'CMD ["pokegan", "serve"]' in dockerfile


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?(POKEGAN_[A-Z_]+)=", text, re.MULTILINE))
    assert SETTING_NAMES <= listed, f"missing from .env.example: {sorted(SETTING_NAMES - listed)}"
    assert listed - SETTING_NAMES == {"POKEGAN_PUBLISH_PORT"}  # the compose-only one


def test_the_all_gpus_example_is_one_worker_reserving_every_gpu(compose: dict[str, Any]) -> None:
    example = yaml.safe_load((ROOT / "deploy" / "compose.all-gpus.yml").read_text())
    service = example["services"]["worker-all-gpus"]
    assert service["profiles"] == ["all-gpus"] and service["command"] == ["pokegan", "worker"]
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert service["environment"] == compose["services"]["worker"]["environment"]  # same DB, broker, queue
    assert service["volumes"] == ["artifacts:/data"] and service["ipc"] == "host"
    assert set(service["depends_on"]) == set(compose["services"]["worker"]["depends_on"])
