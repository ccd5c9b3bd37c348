"""account/user/share_card: sending a user's card, which lets the receiver apply to that
user with source "card" even when the user cannot be found otherwise."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.tables import User
from app.contacts import rules, store
from app.contacts.policy import SocialPolicy
from app.contacts.tables import SharedCard
from app.contacts.users import active_user
from app.contacts.views import CardView, user_card
from app.db import Database, Transaction
from app.db.types import now_ms
from app.errors import bad_input, not_found
from app.principal import Principal
from app.privacy.settings import FindVia
from app.sync.updates import UserUpdates


class CardService:
    def __init__(self, *, db: Database, updates: UserUpdates, policy: SocialPolicy) -> None:
        self.db = db
        self.updates = updates
        self.policy = policy

    async def share_card(self, principal: Principal, *, user_id: int, to_user_id: int) -> CardView:
        """Send `user_id`'s card to `to_user_id`, who may then apply with source "card".
        The caller must know the card's user (themself, a friend, or someone they could
        find) and be allowed to message the receiver."""
        me = principal.user_id
        rules.check_other(me, to_user_id, "share a card with")
        if user_id == to_user_id:
            raise bad_input("cannot send users their own card", field="toUserId")
        async with self.db.transaction() as tx:
            s = tx.session
            sharer = await active_user(s, me)
            card_user = await self.check_may_share(s, sharer_id=me, card_user_id=user_id)
            await active_user(s, to_user_id)
            await self.policy.check_may_message(s, me, to_user_id)
            card = await self.record_card(tx, from_user_id=me, to_user_id=to_user_id, card_user_id=user_id)
            await self.updates.append(
                tx,
                to_user_id,
                "card_shared",
                {"cardId": card.id, "fromUserId": me, "from": user_card(sharer), "user": user_card(card_user)},
            )
        return CardView(card, card_user)

    async def check_may_share(self, session: AsyncSession, *, sharer_id: int, card_user_id: int) -> User:
        """The one rule for sharing a card, as `account/user/share_card` or as a card
        message: the card's user must be the sharer, a friend of theirs, or someone they
        could find by username, and must not have blocked the sharer. Anything else looks
        like no user at all (NOT_FOUND), so the rule reveals nothing the search would not."""
        card_user = await active_user(session, card_user_id)
        if card_user_id == sharer_id:
            return card_user
        if (card_user_id, sharer_id) in await store.blocks_between(session, card_user_id, sharer_id):
            raise not_found("user")
        if not await store.are_friends(session, sharer_id, card_user_id) and not await self.policy.may_find(
            session, sharer_id, card_user_id, FindVia.USERNAME
        ):
            raise not_found("user")
        return card_user

    async def check_and_record(
        self, tx: Transaction, *, sharer_id: int, card_user_id: int, recipients: list[int]
    ) -> None:
        """A card message about to be stored: the sharing rule, then a record per recipient."""
        await self.check_may_share(tx.session, sharer_id=sharer_id, card_user_id=card_user_id)
        for recipient in recipients:
            if recipient != sharer_id:
                await self.record_card(tx, from_user_id=sharer_id, to_user_id=recipient, card_user_id=card_user_id)

    async def record_card(
        self, tx: Transaction, *, from_user_id: int, to_user_id: int, card_user_id: int
    ) -> SharedCard:
        """Remember that a card reached `to_user_id` (also for card messages), which is
        what lets them apply to its user with source "card"."""
        return await store.insert_card(
            tx.session,
            SharedCard(
                from_user_id=from_user_id, to_user_id=to_user_id, card_user_id=card_user_id, created_at=now_ms()
            ),
        )
