"""Thin adapters from schema inputs to app services, one module per domain.

`ALL_OPERATIONS` is the explicit list the schema and the native gateway are built from.
"""

from __future__ import annotations

from app.ops import Operation
from resolvers import (
    accounts,
    admin,
    channels,
    contacts,
    devices,
    events,
    files,
    forward,
    groups,
    message_search,
    messages,
    pins,
    presence,
    privacy,
    reactions,
    receipts,
    search,
    stickers,
    sync,
    system,
)

ALL_OPERATIONS: list[Operation] = [
    *system.OPERATIONS,
    *accounts.OPERATIONS,
    *devices.OPERATIONS,
    *channels.OPERATIONS,
    *messages.OPERATIONS,
    *message_search.OPERATIONS,
    *receipts.OPERATIONS,
    *reactions.OPERATIONS,
    *forward.OPERATIONS,
    *pins.OPERATIONS,
    *contacts.OPERATIONS,
    *groups.OPERATIONS,
    *privacy.OPERATIONS,
    *presence.OPERATIONS,
    *search.OPERATIONS,
    *files.OPERATIONS,
    *stickers.OPERATIONS,
    *admin.OPERATIONS,
    *sync.OPERATIONS,
    *events.OPERATIONS,
]
