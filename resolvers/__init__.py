"""Thin adapters from schema inputs to app services, one module per domain.

`ALL_OPERATIONS` is the explicit list the schema and the native gateway are built from.
"""

from __future__ import annotations

from app.ops import Operation
from resolvers import accounts, devices, events, sync, system

ALL_OPERATIONS: list[Operation] = [
    *system.OPERATIONS,
    *accounts.OPERATIONS,
    *devices.OPERATIONS,
    *sync.OPERATIONS,
    *events.OPERATIONS,
]
