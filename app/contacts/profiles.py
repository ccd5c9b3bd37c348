"""Telling the people who see a user's profile that it changed.

When a user's name, photo or bio changes (by the user, or by an administrator), each
friend, the peer of each direct chat and each member of an active group they share gets a
`profile_changed` user update, and so do the user's own devices. What a recipient gets is what they may see on a
profile read: everyone sees the name and the photo; the full card (username, bio) goes to
friends, to the user, and to co-members of a group that shows them profiles (the group
rule `sees_profiles`, which the member list asks too); a direct-chat peer who is not a
friend sees the name and the photo only. A recipient for whom nothing
visible changed gets nothing.

The whole fan-out is three statements whatever the number of recipients: one reads the
audience, `UserUpdates.append_many` reserves the seqs and inserts the updates.
"""

from __future__ import annotations

from app.accounts.profile import ProfileState
from app.contacts import store
from app.db import Transaction
from app.groups.permissions import role_of, sees_profiles
from app.sync.updates import UserUpdates

PROFILE_CHANGED = "profile_changed"


def full_viewers(rows: list[tuple[int, str | None, bool]]) -> dict[int, bool]:
    """viewer -> whether they see the full profile (in any one shared place is enough)."""
    out: dict[int, bool] = {}
    for viewer, role, see_profiles in rows:
        full = role is None or sees_profiles(role_of(role), members_see_profiles=see_profiles)
        out[viewer] = out.get(viewer, False) or full
    return out


class ProfileAnnouncer:
    def __init__(self, *, updates: UserUpdates) -> None:
        self.updates = updates

    async def announce_change(self, tx: Transaction, before: ProfileState, after: ProfileState) -> int:
        """Append the updates for a change from `before` to `after` in `tx` (delivered live
        after commit); returns how many were appended."""
        if before == after:
            return 0
        shown_changed = before.shown() != after.shown()
        viewers = full_viewers(await store.profile_audience(tx.session, after.user_id))
        viewers[after.user_id] = True  # the user's own devices
        items = []
        for viewer in sorted(viewers):
            full = viewers[viewer]
            if full or shown_changed:
                items.append((viewer, PROFILE_CHANGED, after.payload(full=full)))
        await self.updates.append_many(tx, items)
        return len(items)
