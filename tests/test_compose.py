"""docker/compose.yaml, read (no Docker engine here): the deployment's safety properties.

Only the reverse proxy publishes ports; every long-running service has a healthcheck; secrets
come from the environment; the replicas share PostgreSQL and the vLLM model server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DOCKER = Path(__file__).resolve().parents[1] / "docker"


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))


def test_only_the_proxy_is_published() -> None:
    services = _compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert services["proxy"]["image"].startswith("caddy:")  # the official image
    assert (DOCKER / "Caddyfile").is_file()


def test_services_have_healthchecks_and_wait_for_each_other() -> None:
    services = _compose()["services"]
    for name in ("postgres", "vllm", "app", "proxy"):
        assert services[name]["healthcheck"]["test"], name
    app = services["app"]
    assert app["deploy"]["replicas"] >= 2
    assert app["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert app["depends_on"]["vllm"]["condition"] == "service_healthy"
    assert app["depends_on"]["init"]["condition"] == "service_completed_successfully"


def test_secrets_come_from_the_environment() -> None:
    services = _compose()["services"]
    app_env = services["app"]["environment"]
    assert app_env["MEGREZ_DATABASE_URL"].startswith("postgresql://megrez:${POSTGRES_PASSWORD:?")
    assert app_env["MEGREZ_MODEL"].startswith("openai:http://vllm:8000/v1")
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?"
    )
    assert services["init"]["environment"]["MEGREZ_ADMIN_PASSWORD"].startswith("${")
