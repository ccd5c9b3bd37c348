"""Migrations are read from alembic/ next to the package: a clear error when they are not there."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.db import migrate


def test_missing_migrations_are_named_not_a_traceback_from_alembic(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert migrate.alembic_config().get_main_option("script_location", "").endswith("alembic")
    monkeypatch.setattr(migrate, "ROOT", tmp_path)
    with pytest.raises(migrate.MigrationsMissing, match="pip install -e"):
        migrate.alembic_config()
