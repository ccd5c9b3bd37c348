"""The two numbered kinds of stream items, as GraphQL interfaces.

A client follows one counter per channel (pts) and one for itself (seq) (docs/SYNC.md).
Every channel event type implements `ChannelEvent` and every user update type
`UserUpdateEvent`, so a client reads the counter of any item, including kinds it has no
fragment for, with `... on ChannelEvent { channelId pts }` and `... on UserUpdateEvent
{ seq }`. The unions (`Event`, `ChannelUpdate`, `UserUpdate`) stay: they say which types a
field may return.

Imported by every schema module that defines such a type, so it imports none of them.
"""

from __future__ import annotations

import strawberry


@strawberry.interface(
    description="An event stored in a channel: pts is its place in the channel's gapless order "
    "(apply pts == yours + 1; a larger pts means a gap: syncGetDifference)."
)
class ChannelEvent:
    channel_id: strawberry.ID
    pts: int


@strawberry.interface(
    description="An update to the user that is not a channel event (friends, devices, channel list, read state): "
    "seq is its place in the user's gapless order (a larger seq than yours + 1 means a gap: syncGetUpdates)."
)
class UserUpdateEvent:
    seq: int
