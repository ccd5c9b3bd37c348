"""account/privacy/* types."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from app.privacy.settings import Audience, PrivacyChanges, from_row
from app.privacy.settings import PrivacySettings as PrivacyRecord
from schema.event_interfaces import UserUpdateEvent


@strawberry.enum(description="Who a privacy setting admits.")
class PrivacyAudience(Enum):
    EVERYONE = "everyone"
    FRIENDS_OF_FRIENDS = "friends_of_friends"
    FRIENDS = "friends"
    NOBODY = "nobody"


def _audience(value: PrivacyAudience | None) -> Audience | None:
    return None if value is None else Audience(value.value)


@strawberry.type(description="Who may find, add, message and see the user.")
class PrivacySettings:
    find_by_username: PrivacyAudience = strawberry.field(description="who finds me by username or display name")
    find_by_phone: PrivacyAudience
    find_by_email: PrivacyAudience
    find_by_qrcode: PrivacyAudience = strawberry.field(description="who may use my QR code")
    add_friend: PrivacyAudience = strawberry.field(description="who may send me friend requests")
    friend_approval: bool = strawberry.field(description="false: a request makes us friends without my approval")
    add_to_group: PrivacyAudience = strawberry.field(description="who may add me to groups")
    non_friends_may_message: bool
    show_online: PrivacyAudience = strawberry.field(description="who sees my online status")
    show_read_receipts: bool

    @classmethod
    def from_record(cls, rec: PrivacyRecord) -> PrivacySettings:
        return cls(
            find_by_username=PrivacyAudience(rec.find_by_username.value),
            find_by_phone=PrivacyAudience(rec.find_by_phone.value),
            find_by_email=PrivacyAudience(rec.find_by_email.value),
            find_by_qrcode=PrivacyAudience(rec.find_by_qrcode.value),
            add_friend=PrivacyAudience(rec.add_friend.value),
            friend_approval=rec.friend_approval,
            add_to_group=PrivacyAudience(rec.add_to_group.value),
            non_friends_may_message=rec.non_friends_may_message,
            show_online=PrivacyAudience(rec.show_online.value),
            show_read_receipts=rec.show_read_receipts,
        )


@strawberry.type
class AccountPrivacyGetPayload:
    settings: PrivacySettings


@strawberry.input(description="Only the settings given change.")
class AccountPrivacyUpdateInput:
    find_by_username: PrivacyAudience | None = None
    find_by_phone: PrivacyAudience | None = None
    find_by_email: PrivacyAudience | None = None
    find_by_qrcode: PrivacyAudience | None = None
    add_friend: PrivacyAudience | None = strawberry.field(
        default=None, description="EVERYONE, FRIENDS_OF_FRIENDS or NOBODY"
    )
    friend_approval: bool | None = None
    add_to_group: PrivacyAudience | None = None
    non_friends_may_message: bool | None = None
    show_online: PrivacyAudience | None = None
    show_read_receipts: bool | None = None

    def to_domain(self) -> PrivacyChanges:
        return PrivacyChanges(
            find_by_username=_audience(self.find_by_username),
            find_by_phone=_audience(self.find_by_phone),
            find_by_email=_audience(self.find_by_email),
            find_by_qrcode=_audience(self.find_by_qrcode),
            add_friend=_audience(self.add_friend),
            friend_approval=self.friend_approval,
            add_to_group=_audience(self.add_to_group),
            non_friends_may_message=self.non_friends_may_message,
            show_online=_audience(self.show_online),
            show_read_receipts=self.show_read_receipts,
        )


@strawberry.type
class AccountPrivacyUpdatePayload:
    settings: PrivacySettings


@strawberry.type(description="The user changed their privacy settings (sent to the user's own devices).")
class PrivacyChangedEvent(UserUpdateEvent):
    settings: PrivacySettings

    @classmethod
    def from_update(cls, seq: int, payload: dict[str, Any]) -> PrivacyChangedEvent:
        return cls(seq=seq, settings=PrivacySettings.from_record(from_row(payload)))
