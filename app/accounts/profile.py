"""What others see of a user's profile, as a value to compare before and after a change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.accounts.tables import User


@dataclass(frozen=True, slots=True)
class ProfileState:
    """What other users may ever see of a profile (email and phone are the user's own)."""

    user_id: int
    username: str
    display_name: str
    avatar_file_id: str | None
    bio: str | None

    @classmethod
    def of(cls, user: User) -> ProfileState:
        assert user.id is not None
        return cls(user.id, user.username, user.display_name, user.avatar_file_id, user.bio)

    def shown(self) -> tuple[str, str | None]:
        """The part everyone who sees the user sees: name and photo."""
        return self.display_name, self.avatar_file_id

    def payload(self, *, full: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "userId": self.user_id,
            "displayName": self.display_name,
            "avatarFileId": self.avatar_file_id,
        }
        if full:
            out["profile"] = {
                "id": self.user_id,
                "username": self.username,
                "displayName": self.display_name,
                "avatarFileId": self.avatar_file_id,
                "bio": self.bio,
            }
        return out
