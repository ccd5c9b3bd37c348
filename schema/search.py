"""account/search/* and user/qrcode/* types."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from app.contacts.search import SearchHit
from app.qrcodes.service import QrCode, Resolved
from schema.accounts import User
from schema.common import from_ms, from_ms_required


@strawberry.enum
class SearchMatch(Enum):
    USERNAME = "username"
    DISPLAY_NAME = "display_name"
    PHONE = "phone"
    EMAIL = "email"


@strawberry.type
class SearchResult:
    user: User
    is_friend: bool
    matched_by: SearchMatch
    search_proof: str = strawberry.field(
        description="proof that this search found this user, for this caller only: send it as `searchProof` "
        "in `contactFriendApply` with source SEARCH (or PHONE, when matched by phone); expires after 15 minutes"
    )

    @classmethod
    def from_hit(cls, hit: SearchHit) -> SearchResult:
        return cls(
            user=User.from_record(hit.user),
            is_friend=hit.is_friend,
            matched_by=SearchMatch(hit.matched_by.value),
            search_proof=hit.proof,
        )


@strawberry.input
class AccountSearchQueryInput:
    query: str = strawberry.field(
        description="a username or display-name prefix, or an exact phone number or email address"
    )
    limit: int = 20
    cursor: str | None = None


@strawberry.type
class AccountSearchQueryPayload:
    results: list[SearchResult]
    next_cursor: str | None = strawberry.field(
        description="more may follow (a page can be short when many matches are hidden); null: no more"
    )


@strawberry.type(description="A user's QR code: `payload` is what the code encodes.")
class UserQrCode:
    payload: str
    token: str
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def from_code(cls, code: QrCode) -> UserQrCode:
        return cls(
            payload=code.payload,
            token=code.token,
            created_at=from_ms_required(code.created_at),
            expires_at=from_ms(code.expires_at),
        )


@strawberry.type
class UserQrcodeGetPayload:
    qrcode: UserQrCode


@strawberry.input
class UserQrcodeRefreshInput:
    expires_in_seconds: int | None = strawberry.field(default=None, description="null: the code does not expire")


@strawberry.type
class UserQrcodeRefreshPayload:
    qrcode: UserQrCode


@strawberry.input
class UserQrcodeResolveInput:
    qrcode: str = strawberry.field(description="the scanned payload (or its bare token)")


@strawberry.type
class UserQrcodeResolvePayload:
    user: User
    is_friend: bool

    @classmethod
    def from_resolved(cls, resolved: Resolved) -> UserQrcodeResolvePayload:
        return cls(user=User.from_record(resolved.user), is_friend=resolved.is_friend)


@strawberry.input
class AccountSearchByQrcodeInput:
    qrcode: str = strawberry.field(description="the scanned payload (or its bare token)")


@strawberry.type
class AccountSearchByQrcodePayload:
    user: User
    is_friend: bool

    @classmethod
    def from_resolved(cls, resolved: Resolved) -> AccountSearchByQrcodePayload:
        return cls(user=User.from_record(resolved.user), is_friend=resolved.is_friend)
