"""Fixtures: settings per test, services on a fresh database, an in-process GraphQL client.

The backend (SQLite or PostgreSQL + Redis) is chosen by PRIVCHAT_TEST_BACKEND; see
tests/support/backends.py. tests/e2e adds real server processes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import runtime
from app.config import Settings, load_settings
from app.runtime import Services
from tests.support import backends
from tests.support.backends import DatabaseFactory, TestDatabase
from tests.support.graphql import GraphQLClient
from tests.support.hangs import bounded

FAST_HASH = {"password_hash_time_cost": 1, "password_hash_memory_kib": 1024}
TEST_SECRET = "test-secret-" + "x" * 40


def pytest_report_header(config: pytest.Config) -> str:
    if backends.IS_POSTGRES:
        return f"privchat backend: postgres ({backends.PG_URL}) + redis ({backends.REDIS_URL})"
    return "privchat backend: sqlite + in-memory bus"


@pytest.fixture(scope="session")
def db_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"))
    yield factory
    if factory.created:
        asyncio.run(factory.drop_all())


@pytest.fixture
async def test_db(db_factory: DatabaseFactory) -> AsyncIterator[TestDatabase]:
    db = await bounded(db_factory.new(), "creating the test database")
    yield db
    await bounded(db_factory.drop(db), "dropping the test database")


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    """Settings for a test: fast password hashing, own key namespace, given database."""
    base: dict[str, Any] = {
        "dev": True,
        "data_dir": data_dir,
        "database": {"url": database_url, "auto_migrate": True},
        "security": {**FAST_HASH, "jwt_secret": TEST_SECRET},
        "cache": {"key_prefix": "t" + uuid.uuid4().hex[:12]},
    }
    if backends.IS_POSTGRES:
        base["cache"]["redis_url"] = backends.REDIS_URL
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return load_settings(None, **base)


@pytest.fixture
def settings_factory(tmp_path: Path, test_db: TestDatabase) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        return make_settings(tmp_path / "data", test_db.url, **overrides)

    return build


@pytest.fixture
def settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    svc = runtime.build_services(settings)
    await bounded(runtime.start(svc), "starting the services")
    yield svc
    await bounded(runtime.stop(svc), "stopping the services")


@pytest.fixture
def api(settings: Settings) -> Any:
    from app.main import build_api

    return build_api(settings)


@pytest.fixture
async def client_asgi(services: Services, api: Any) -> Any:
    from app.asgi import client_app
    from schema.transport import GraphQLApp

    return client_app(services, graphql=GraphQLApp(api, services), schema_sdl=api.schema.as_str())


@pytest.fixture
async def gql(client_asgi: Any) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=client_asgi, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)
