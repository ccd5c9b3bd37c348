"""Real server processes for end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.backends import DatabaseFactory, TestDatabase
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def server_factory(
    tmp_path_factory: pytest.TempPathFactory, db_factory: DatabaseFactory
) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers (optionally sharing a database: pass `database=`); all stopped at the end."""
    started: list[ServerProcess] = []
    databases: list[TestDatabase] = []

    def start(database: TestDatabase | None = None, **kwargs: object) -> ServerProcess:
        if database is None:
            database = asyncio.run(db_factory.new())
            databases.append(database)
        data_dir: Path = tmp_path_factory.mktemp("server")
        server = ServerProcess(data_dir=data_dir, database_url=database.url, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
    for database in databases:
        asyncio.run(db_factory.drop(database))


@pytest.fixture(scope="module")
def live_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory()
