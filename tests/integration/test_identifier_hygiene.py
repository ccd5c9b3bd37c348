"""Identifier hygiene: identifiers match in full (no trailing newline sneaks past a `$`),
and every name people see follows one rule (length, no control or bidi-override
characters, not invisible-only, NFC)."""

from __future__ import annotations

import ast
import pathlib
import unicodedata

import pytest

from app.errors import AppError
from app.runtime import Services
from tests.support import factories
from tests.support.graphql import GraphQLClient

REGISTER = """mutation($i: AccountUserRegisterInput!) { accountUserRegister(input: $i) { user { id } } }"""
LOGIN = """mutation($i: AccountAuthLoginInput!) { accountAuthLogin(input: $i) { accessToken } }"""
PROFILE = """mutation($i: AccountProfileUpdateInput!) { accountProfileUpdate(input: $i) {
  profile { displayName } } }"""
RENAME = """mutation($i: DeviceUpdateNameInput!) { deviceUpdateName(input: $i) { __typename } }"""
GROUP = """mutation($i: GroupGroupCreateInput!) { groupGroupCreate(input: $i) { group { name } } }"""

BAD_NAMES = [
    "evil\u202eexe.jpg",  # right-to-left override
    "\u2067isolate",  # right-to-left isolate
    "\u200b\u200b",  # zero-width only
    "\u200d\u0301",  # a joiner and a combining mark: nothing visible
    "line\u2028break",
    "tab\there",
    "bell\x07",
    "x" * 900_000,  # 900 KB
]


async def test_identifiers_do_not_match_with_a_trailing_newline(gql: GraphQLClient, services: Services) -> None:
    await factories.account(services, "secalice")
    result = await gql.execute(REGISTER, {"i": {"username": "secalice\n", "password": "a-long-passw0rd"}})
    assert result.error_code == "BAD_USER_INPUT" and result.errors[0]["extensions"]["field"] == "username"
    login = {"username": "secalice", "password": factories.PASSWORD, "deviceName": "x", "platform": "ios"}
    for device_id in ("evil\n", "evil\r\n", "ok\x00"):
        refused = await gql.execute(LOGIN, {"i": {**login, "deviceId": device_id}})
        assert refused.error_code == "BAD_USER_INPUT", (device_id, refused.body)
    assert (await gql.execute(LOGIN, {"i": {**login, "deviceId": "evil"}})).error_code is None


def test_no_regex_in_the_server_anchors_its_end_with_a_bare_dollar() -> None:
    """`$` also matches before a trailing newline: anchor with `\\Z` (or use fullmatch)."""
    offenders = []
    for path in pathlib.Path("app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "re"
                and node.func.attr in ("compile", "match", "search")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and node.args[0].value.rstrip(")").endswith("$")
            ):
                offenders.append(f"{path}:{node.lineno}")
    assert offenders == []


@pytest.mark.parametrize("bad", BAD_NAMES, ids=range(len(BAD_NAMES)))
async def test_names_follow_one_rule(gql: GraphQLClient, services: Services, bad: str) -> None:
    ann = await factories.account(services, "ann", device_id="phone")
    for document, args, field in (
        (PROFILE, {"displayName": bad}, "displayName"),
        (RENAME, {"deviceId": "phone", "deviceName": bad}, "deviceName"),
        (GROUP, {"name": bad}, "name"),
    ):
        result = await gql.execute(document, {"i": args}, token=ann.access_token)
        assert result.error_code == "BAD_USER_INPUT", (field, result.body)
        assert result.errors[0]["extensions"]["field"] == field
    with pytest.raises(AppError):
        await services.contacts.set_alias(ann.principal, user_id=ann.user_id + 1, alias=bad)


async def test_good_names_are_kept_normalised(gql: GraphQLClient, services: Services) -> None:
    ann = await factories.account(services, "ann")
    decomposed = "Zoe\u0308 \U0001f468\u200d\U0001f469\u200d\U0001f467 \u05e9\u05dc\u05d5\u05dd"  # e + diaeresis, family emoji, Hebrew
    result = await gql.data(PROFILE, {"i": {"displayName": f"  {decomposed} "}}, token=ann.access_token)
    assert result["accountProfileUpdate"]["profile"]["displayName"] == unicodedata.normalize("NFC", decomposed)
