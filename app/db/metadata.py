"""Imports every table module so `SQLModel.metadata` is complete (alembic, tests)."""

from sqlmodel import SQLModel

import app.accounts.tables
import app.channels.tables
import app.contacts.tables
import app.devices.tables
import app.messaging.tables
import app.privacy.tables
import app.qrcodes.tables
import app.sync.tables  # noqa: F401

metadata = SQLModel.metadata

__all__ = ["metadata"]
