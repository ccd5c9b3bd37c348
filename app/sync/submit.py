"""Rules for replaying a client's offline queue (`sync/submit`)."""

from __future__ import annotations

from app.errors import bad_input

MAX_SUBMIT_ITEMS = 100


def check_submit_batch(count: int) -> None:
    """One submission replays 1..MAX_SUBMIT_ITEMS queued actions, so a single call stays bounded."""
    if not 1 <= count <= MAX_SUBMIT_ITEMS:
        raise bad_input(f"items must hold 1..{MAX_SUBMIT_ITEMS} entries", field="items")
