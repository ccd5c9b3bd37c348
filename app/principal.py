"""Who is acting: the authenticated device session every service call takes.

Its own module, imported by every domain: it depends on nothing, so no lower module
has to import the request context (and, through it, the runtime) to name the caller.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    session_id: int
    device_id: str
    is_admin: bool = False
