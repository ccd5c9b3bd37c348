"""The one social policy: who may find, befriend, message, add to groups and see whom.

Two halves. The decisions are pure functions of a target's `PrivacySettings` and the
`Facts` between two users (no I/O: tests/unit/test_privacy_policy.py checks them as a
table of cases). `SocialPolicy` gathers those facts from the database, inside the
caller's session, and is what other domains call (`services.policy`):

- messaging: `check_may_message` / `may_message` before a direct message;
- groups: `check_may_add_to_group` / `may_add_to_group` before adding a member;
- presence: `may_see_presence` / `presence_visible_to`;
- read receipts: `shows_read_receipts` / `read_receipts_shown`;
- contacts and search: `check_may_apply`, `may_apply`, `may_find`, `findable`.

A refusal caused by the blacklist reads exactly like one caused by privacy settings: the
blocked user cannot tell that they were blocked. A friend request whose claimed source the
server cannot vouch for reads exactly like a request to a user who does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.contacts import store
from app.contacts.rules import FriendSource
from app.contacts.search_proofs import SearchProof, SearchProofs
from app.db.types import now_ms
from app.errors import AppError, ErrorCode, not_found
from app.privacy import store as privacy_store
from app.privacy.settings import Audience, FindVia, PrivacySettings
from app.qrcodes import store as qr_store

# The neutral refusals (one wording per action, whatever the reason).
CANNOT_MESSAGE = "you cannot message this user"
CANNOT_APPLY = "you cannot send a friend request to this user"
CANNOT_ADD_TO_GROUP = "you cannot add this user to a group"


@dataclass(frozen=True, slots=True)
class Facts:
    """What holds between an actor (who acts) and a target (whose settings apply)."""

    same_user: bool = False
    friends: bool = False
    mutual_friend: bool = False  # they share at least one friend
    blocked_by_target: bool = False  # the target blacklisted the actor
    blocking_target: bool = False  # the actor blacklisted the target

    @property
    def blocked(self) -> bool:
        return self.blocked_by_target or self.blocking_target


class ApplyVerdict(StrEnum):
    REFUSED = "refused"
    # The claimed source is not a way the server knows the requester reached the target:
    # answered like a missing user, so an unproven request learns nothing about the target.
    UNPROVEN = "unproven"
    NEEDS_APPROVAL = "needs_approval"
    BEFRIEND = "befriend"  # the target accepts requests without approval


# --- decisions (pure) ----------------------------------------------------------------


def admits(audience: Audience, facts: Facts) -> bool:
    if facts.same_user:
        return True
    if audience is Audience.EVERYONE:
        return True
    if audience is Audience.FRIENDS_OF_FRIENDS:
        return facts.friends or facts.mutual_friend
    if audience is Audience.FRIENDS:
        return facts.friends
    return False


def may_find(settings: PrivacySettings, facts: Facts, via: FindVia) -> bool:
    """May the actor find the target by this route (search, phone, email, QR code)?"""
    if facts.same_user:
        return True
    return not facts.blocked_by_target and admits(settings.find_audience(via), facts)


@dataclass(frozen=True, slots=True)
class Proofs:
    """What the server itself knows about how the actor could have found the target; a
    request's claimed source is checked against these, never taken on the client's word."""

    has_card: bool = False  # a card of the target reached the actor (from someone allowed to share it)
    shares_group: bool = False  # both are active members of one group
    holds_qr_token: bool = False  # the request carries the target's current, unexpired QR token
    # The request carries a search proof admitted by `search_proof_way`: how the search found the target.
    found_via: FindVia | None = None


NO_PROOFS = Proofs()


def search_proof_way(proof: SearchProof | None, *, actor_id: int, target_id: int, now: int) -> FindVia | None:
    """The way a (signature-checked) search proof says the actor found the target, if the
    proof is the actor's own, about this target, and unexpired (`now`: epoch seconds)."""
    if proof is None or proof.searcher_id != actor_id or proof.target_id != target_id:
        return None
    return proof.via if now < proof.expires_at else None


def source_admitted(settings: PrivacySettings, facts: Facts, source: FriendSource, proofs: Proofs = NO_PROOFS) -> bool:
    """A request's claimed source must be a way the target lets the actor reach them, and
    one the server can vouch for:

    | source | proof                                             | the target's setting that must admit the actor |
    |--------|---------------------------------------------------|------------------------------------------------|
    | SEARCH | the actor's unexpired search proof for the target | find by the way the search found them           |
    |        | (in the request)                                  | (username, phone or email), now                 |
    | PHONE  | as SEARCH, from a search by phone number          | find by phone, now                              |
    | QRCODE | the target's current QR token, in the request      | find by QR code                                 |
    | GROUP  | an active group both are members of               | -                                               |
    | CARD   | a card of the target received                     | -                                               |
    """
    if source is FriendSource.SEARCH:
        return proofs.found_via is not None and may_find(settings, facts, proofs.found_via)
    if source is FriendSource.PHONE:
        return proofs.found_via is FindVia.PHONE and may_find(settings, facts, FindVia.PHONE)
    if source is FriendSource.QRCODE:
        return proofs.holds_qr_token and may_find(settings, facts, FindVia.QRCODE)
    if source is FriendSource.CARD:
        return proofs.has_card
    if source is FriendSource.GROUP:
        return proofs.shares_group
    return False


def apply_verdict(
    settings: PrivacySettings, facts: Facts, source: FriendSource | None = None, proofs: Proofs = NO_PROOFS
) -> ApplyVerdict:
    """What happens when the actor asks the target to be friends. The source is checked
    first: until it is proven, no other answer may tell the actor anything about the target."""
    if facts.same_user or facts.friends:
        return ApplyVerdict.REFUSED
    if source is not None and not source_admitted(settings, facts, source, proofs):
        return ApplyVerdict.UNPROVEN
    if facts.blocked:
        return ApplyVerdict.REFUSED
    if not admits(settings.add_friend, facts) or settings.add_friend is Audience.FRIENDS:
        return ApplyVerdict.REFUSED
    return ApplyVerdict.NEEDS_APPROVAL if settings.friend_approval else ApplyVerdict.BEFRIEND


def may_message(settings: PrivacySettings, facts: Facts) -> bool:
    """May the actor send the target a direct message?"""
    if facts.same_user:
        return True
    if facts.blocked:
        return False
    return facts.friends or settings.non_friends_may_message


def may_add_to_group(settings: PrivacySettings, facts: Facts) -> bool:
    if facts.same_user:
        return True
    return not facts.blocked and admits(settings.add_to_group, facts)


def may_see_presence(settings: PrivacySettings, facts: Facts) -> bool:
    if facts.same_user:
        return True
    return not facts.blocked_by_target and admits(settings.show_online, facts)


def shows_read_receipts(settings: PrivacySettings) -> bool:
    return settings.show_read_receipts


def needs_mutual_friend(*audiences: Audience) -> bool:
    return Audience.FRIENDS_OF_FRIENDS in audiences


# --- facts from the database ---------------------------------------------------------


class SocialPolicy:
    """The policy with its facts read in the caller's session (so a check can run inside
    the transaction that acts on it). Stateless: one instance serves the process; it holds
    the key that checks search proofs."""

    def __init__(self, *, search_proofs: SearchProofs) -> None:
        self.search_proofs = search_proofs

    async def settings(self, session: AsyncSession, user_id: int) -> PrivacySettings:
        return await privacy_store.get(session, user_id)

    async def are_friends(self, session: AsyncSession, a: int, b: int) -> bool:
        return await store.are_friends(session, a, b)

    async def has_blocked(self, session: AsyncSession, *, blocker_id: int, blocked_id: int) -> bool:
        return await store.get_block(session, blocker_id, blocked_id) is not None

    async def facts(self, session: AsyncSession, actor_id: int, target_id: int, *, mutual: bool = False) -> Facts:
        """Facts between two users; the (costlier) mutual-friend check only when asked."""
        if actor_id == target_id:
            return Facts(same_user=True)
        friends = await store.are_friends(session, actor_id, target_id)
        blocks = await store.blocks_between(session, actor_id, target_id)
        mutual_friend = (
            mutual and not friends and bool(await store.reachable_through_friends(session, actor_id, [target_id]))
        )
        return Facts(
            friends=friends,
            mutual_friend=mutual_friend,
            blocked_by_target=(target_id, actor_id) in blocks,
            blocking_target=(actor_id, target_id) in blocks,
        )

    async def facts_many(
        self, session: AsyncSession, actor_id: int, targets: Iterable[int], *, mutual: bool
    ) -> dict[int, Facts]:
        ids = set(targets)
        friends = await store.friends_among(session, actor_id, ids)
        blockers = await store.blockers_among(session, actor_id, ids)
        blocked = await store.blocked_among(session, actor_id, ids)
        reachable = await store.reachable_through_friends(session, actor_id, ids - friends) if mutual else set()
        return {
            t: Facts(
                same_user=t == actor_id,
                friends=t in friends,
                mutual_friend=t in reachable,
                blocked_by_target=t in blockers,
                blocking_target=t in blocked,
            )
            for t in ids
        }

    # -- messaging ----------------------------------------------------------------------

    async def may_message(self, session: AsyncSession, sender_id: int, recipient_id: int) -> bool:
        settings = await self.settings(session, recipient_id)
        return may_message(settings, await self.facts(session, sender_id, recipient_id))

    async def check_may_message(self, session: AsyncSession, sender_id: int, recipient_id: int) -> None:
        """FORBIDDEN (one neutral wording) unless `sender_id` may message `recipient_id`."""
        if not await self.may_message(session, sender_id, recipient_id):
            raise AppError(ErrorCode.FORBIDDEN, CANNOT_MESSAGE)

    # -- friend requests ----------------------------------------------------------------

    async def apply_verdict(
        self,
        session: AsyncSession,
        requester_id: int,
        target_id: int,
        source: FriendSource | None = None,
        *,
        qr_token: str | None = None,
        search_proof: str | None = None,
    ) -> ApplyVerdict:
        settings = await self.settings(session, target_id)
        audiences = [settings.add_friend]
        if source is not None:
            audiences += [settings.find_audience(v) for v in FindVia]
        facts = await self.facts(session, requester_id, target_id, mutual=needs_mutual_friend(*audiences))
        proofs = await self._proofs(session, requester_id, target_id, source, qr_token, search_proof)
        return apply_verdict(settings, facts, source, proofs)

    async def _proofs(
        self,
        session: AsyncSession,
        requester_id: int,
        target_id: int,
        source: FriendSource | None,
        qr_token: str | None,
        search_proof: str | None,
    ) -> Proofs:
        """Only the proof the claimed source needs is read."""
        if source is FriendSource.CARD:
            return Proofs(has_card=await store.has_card(session, to_user_id=requester_id, card_user_id=target_id))
        if source is FriendSource.GROUP:
            return Proofs(shares_group=await store.share_active_group(session, requester_id, target_id))
        if source is FriendSource.QRCODE:
            if qr_token is None:
                return NO_PROOFS
            row = await qr_store.get_by_token(session, qr_token)
            fresh = row is not None and (row.expires_at is None or row.expires_at > now_ms())
            return Proofs(holds_qr_token=fresh and row is not None and row.user_id == target_id)
        if source in (FriendSource.SEARCH, FriendSource.PHONE):
            proof = self.search_proofs.read(search_proof) if search_proof else None
            way = search_proof_way(proof, actor_id=requester_id, target_id=target_id, now=now_ms() // 1000)
            return Proofs(found_via=way)
        return NO_PROOFS

    async def may_apply(self, session: AsyncSession, requester_id: int, target_id: int) -> bool:
        verdict = await self.apply_verdict(session, requester_id, target_id)
        return verdict in (ApplyVerdict.NEEDS_APPROVAL, ApplyVerdict.BEFRIEND)

    async def check_may_apply(
        self,
        session: AsyncSession,
        requester_id: int,
        target_id: int,
        source: FriendSource | None = None,
        *,
        qr_token: str | None = None,
        search_proof: str | None = None,
    ) -> ApplyVerdict:
        """The verdict; NOT_FOUND, word for word as for a missing user, when the claimed
        source is unproven; FORBIDDEN (one neutral wording) when the request is refused."""
        verdict = await self.apply_verdict(
            session, requester_id, target_id, source, qr_token=qr_token, search_proof=search_proof
        )
        if verdict is ApplyVerdict.UNPROVEN:
            raise not_found("user")
        if verdict is ApplyVerdict.REFUSED:
            raise AppError(ErrorCode.FORBIDDEN, CANNOT_APPLY)
        return verdict

    # -- groups -------------------------------------------------------------------------

    async def may_add_to_group(self, session: AsyncSession, actor_id: int, target_id: int) -> bool:
        settings = await self.settings(session, target_id)
        facts = await self.facts(session, actor_id, target_id, mutual=needs_mutual_friend(settings.add_to_group))
        return may_add_to_group(settings, facts)

    async def check_may_add_to_group(self, session: AsyncSession, actor_id: int, target_id: int) -> None:
        if not await self.may_add_to_group(session, actor_id, target_id):
            raise AppError(ErrorCode.FORBIDDEN, CANNOT_ADD_TO_GROUP)

    # -- presence and receipts ----------------------------------------------------------

    async def may_see_presence(self, session: AsyncSession, viewer_id: int, target_id: int) -> bool:
        return target_id in await self.presence_visible_to(session, viewer_id, [target_id])

    async def presence_visible_to(self, session: AsyncSession, viewer_id: int, user_ids: Iterable[int]) -> set[int]:
        """Those of `user_ids` whose online status `viewer_id` may see."""
        settings = await privacy_store.get_many(session, user_ids)
        mutual = needs_mutual_friend(*(s.show_online for s in settings.values()))
        facts = await self.facts_many(session, viewer_id, settings, mutual=mutual)
        return {u for u, s in settings.items() if may_see_presence(s, facts[u])}

    async def shows_read_receipts(self, session: AsyncSession, user_id: int) -> bool:
        """Does `user_id` let others see when they read a message?"""
        return shows_read_receipts(await self.settings(session, user_id))

    async def read_receipts_shown(self, session: AsyncSession, user_ids: Iterable[int]) -> set[int]:
        settings = await privacy_store.get_many(session, user_ids)
        return {u for u, s in settings.items() if shows_read_receipts(s)}

    # -- finding ------------------------------------------------------------------------

    async def may_find(self, session: AsyncSession, viewer_id: int, target_id: int, via: FindVia) -> bool:
        return target_id in await self.findable(session, viewer_id, [target_id], via)

    async def findable(self, session: AsyncSession, viewer_id: int, user_ids: Iterable[int], via: FindVia) -> set[int]:
        """Those of `user_ids` the viewer may find this way."""
        settings = await privacy_store.get_many(session, user_ids)
        mutual = needs_mutual_friend(*(s.find_audience(via) for s in settings.values()))
        facts = await self.facts_many(session, viewer_id, settings, mutual=mutual)
        return {u for u, s in settings.items() if may_find(s, facts[u], via)}
