"""/metrics behind the service key when `http.metrics_require_service_key` is on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.asgi import service_app
from app.config import Settings

KEY = "metrics-service-key-" + "m" * 24


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], request: pytest.FixtureRequest) -> Settings:
    return settings_factory(
        http={"metrics_require_service_key": getattr(request, "param", True)}, security={"service_key": KEY}
    )


async def get_metrics(services: Any, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=service_app(services), client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get("/metrics", headers=headers)


async def test_metrics_need_the_service_key_when_asked(services: Any) -> None:
    assert (await get_metrics(services)).status_code == 401
    assert (await get_metrics(services, **{"x-service-key": "wrong"})).status_code == 401
    assert (await get_metrics(services, authorization="Bearer wrong")).status_code == 401
    for headers in ({"x-service-key": KEY}, {"authorization": f"Bearer {KEY}"}):
        response = await get_metrics(services, **headers)
        assert response.status_code == 200 and "privchat_rpc_duration_seconds" in response.text


@pytest.mark.parametrize("settings", [False], indirect=True)
async def test_metrics_are_open_by_default(services: Any) -> None:
    assert (await get_metrics(services)).status_code == 200
