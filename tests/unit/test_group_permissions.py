"""The group permission table as a matrix: every (role, action) pair, the rank rule for
acting on another member, and what an invitation becomes. The expected values are
written out here, not derived from the module under test."""

from __future__ import annotations

import pytest

from app.errors import AppError
from app.groups.permissions import (
    PERMISSIONS,
    Action,
    InviteOutcome,
    Role,
    invite_outcome,
    may,
    may_act_on,
    qr_join_outcome,
    require,
    role_of,
)

OWNER, ADMIN, MEMBER = Role.OWNER, Role.ADMIN, Role.MEMBER

# action -> (owner, admin, member)
EXPECTED: dict[Action, tuple[bool, bool, bool]] = {
    Action.VIEW: (True, True, True),
    Action.SPEAK_DURING_MUTE_ALL: (True, True, False),
    Action.INVITE: (True, True, False),
    Action.HANDLE_REQUESTS: (True, True, False),
    Action.REMOVE_MEMBER: (True, True, False),
    Action.MUTE_MEMBER: (True, True, False),
    Action.MUTE_ALL: (True, True, False),
    Action.EDIT_SETTINGS: (True, True, False),
    Action.SET_MEMBER_LIMIT: (True, False, False),
    Action.SET_ROLE: (True, False, False),
    Action.TRANSFER_OWNER: (True, False, False),
    Action.DISMISS: (True, False, False),
    Action.MANAGE_QRCODE: (True, True, False),
    Action.REVOKE_OTHERS: (True, True, False),
    Action.MENTION_ALL: (True, True, False),
    Action.PIN: (True, True, False),
    Action.SEE_READ_RECEIPTS: (True, True, False),
    Action.SEE_PROFILES: (True, True, False),
    Action.LEAVE: (False, True, True),
}
MATRIX = [(role, action, EXPECTED[action][i]) for action in EXPECTED for i, role in enumerate((OWNER, ADMIN, MEMBER))]


def test_every_action_has_an_expected_row_and_a_table_entry() -> None:
    assert set(EXPECTED) == set(Action) == set(PERMISSIONS)


@pytest.mark.parametrize(("role", "action", "allowed"), MATRIX, ids=[f"{r}-{a}" for r, a, _ in MATRIX])
def test_role_action_matrix(role: Role, action: Action, allowed: bool) -> None:
    assert may(role, action) is allowed
    if allowed:
        require(role, action)
    else:
        with pytest.raises(AppError) as err:
            require(role, action)
        assert err.value.code.value == "FORBIDDEN"


# (actor, target) -> may remove / mute: only a strictly higher rank.
ON_OTHERS = {
    (OWNER, OWNER): False,
    (OWNER, ADMIN): True,
    (OWNER, MEMBER): True,
    (ADMIN, OWNER): False,
    (ADMIN, ADMIN): False,
    (ADMIN, MEMBER): True,
    (MEMBER, OWNER): False,
    (MEMBER, ADMIN): False,
    (MEMBER, MEMBER): False,
}


@pytest.mark.parametrize("action", [Action.REMOVE_MEMBER, Action.MUTE_MEMBER])
@pytest.mark.parametrize(("actor", "target"), list(ON_OTHERS))
def test_nobody_acts_on_an_equal_or_higher_rank(action: Action, actor: Role, target: Role) -> None:
    expected = ON_OTHERS[(actor, target)]
    assert may_act_on(actor, action, target) is expected
    if not expected:
        with pytest.raises(AppError) as err:
            require(actor, action, target)
        assert err.value.code.value == "FORBIDDEN"


def test_rank_does_not_matter_for_actions_on_the_group_itself() -> None:
    assert may_act_on(ADMIN, Action.MUTE_ALL, OWNER)
    assert not may_act_on(MEMBER, Action.MUTE_ALL, MEMBER)


ADD, REQUEST, REFUSED = InviteOutcome.ADD, InviteOutcome.REQUEST, InviteOutcome.REFUSED
# (members_may_invite, join_approval) -> outcome for (owner, admin, member)
INVITES = {
    (True, False): (ADD, ADD, ADD),
    (True, True): (ADD, ADD, REQUEST),
    (False, False): (ADD, ADD, REFUSED),
    (False, True): (ADD, ADD, REFUSED),
}


@pytest.mark.parametrize(("may_invite", "approval"), list(INVITES))
def test_what_an_invitation_becomes(may_invite: bool, approval: bool) -> None:
    got = tuple(
        invite_outcome(r, members_may_invite=may_invite, join_approval=approval) for r in (OWNER, ADMIN, MEMBER)
    )
    assert got == INVITES[(may_invite, approval)]


def test_qr_joins_need_approval_only_when_it_is_on() -> None:
    assert qr_join_outcome(join_approval=True) is REQUEST
    assert qr_join_outcome(join_approval=False) is ADD


def test_an_unknown_stored_role_grants_nothing_extra() -> None:
    assert role_of("owner") is OWNER and role_of("admin") is ADMIN
    assert role_of("superuser") is MEMBER
