"""Per-device sessions: list, rename, revoke, kick, kick others, revoke all."""

from __future__ import annotations

from app.runtime import Services
from tests.support import factories
from tests.support.graphql import GraphQLClient

DEVICES = "query { deviceList { devices { deviceId deviceName platform current ip } } }"
PROFILE = "query { accountProfileGet { profile { id } } }"


async def two_devices(services: Services) -> tuple[factories.Account, factories.Account]:
    await factories.register(services, "ann")
    phone = await factories.login(services, "ann", device_id="phone")
    laptop = await factories.login(services, "ann", device_id="laptop", platform="desktop")
    return phone, laptop


async def test_device_list_marks_the_current_device(services: Services, gql: GraphQLClient) -> None:
    phone, _ = await two_devices(services)
    devices = (await gql.data(DEVICES, token=phone.access_token))["deviceList"]["devices"]
    assert sorted(d["deviceId"] for d in devices) == ["laptop", "phone"]
    assert [d["deviceId"] for d in devices if d["current"]] == ["phone"]


async def test_kicked_device_is_refused_on_its_next_call(services: Services, gql: GraphQLClient) -> None:
    phone, laptop = await two_devices(services)
    kicked = await gql.data('mutation { deviceKick(input: {deviceId: "laptop"}) { kicked } }', token=phone.access_token)
    assert kicked["deviceKick"]["kicked"] == 1
    assert (await gql.execute(PROFILE, token=laptop.access_token)).error_code == "SESSION_REVOKED"
    assert (await gql.execute(PROFILE, token=phone.access_token)).error_code is None
    refresh = "mutation($t: String!) { accountAuthRefresh(input: {refreshToken: $t}) { accessToken } }"
    assert (await gql.execute(refresh, {"t": laptop.refresh_token})).error_code == "SESSION_REVOKED"
    devices = (await gql.data(DEVICES, token=phone.access_token))["deviceList"]["devices"]
    assert [d["deviceId"] for d in devices] == ["phone"]


async def test_kick_others_keeps_only_the_caller(services: Services, gql: GraphQLClient) -> None:
    phone, laptop = await two_devices(services)
    tablet = await factories.login(services, "ann", device_id="tablet")
    data = await gql.data("mutation { deviceKickOthers { kicked } }", token=phone.access_token)
    assert data["deviceKickOthers"]["kicked"] == 2
    for other in (laptop, tablet):
        assert (await gql.execute(PROFILE, token=other.access_token)).error_code == "SESSION_REVOKED"
    assert (await gql.execute(PROFILE, token=phone.access_token)).error_code is None


async def test_revoke_all_includes_the_caller(services: Services, gql: GraphQLClient) -> None:
    phone, laptop = await two_devices(services)
    data = await gql.data("mutation { deviceRevokeAll { revoked } }", token=phone.access_token)
    assert data["deviceRevokeAll"]["revoked"] == 2
    for acct in (phone, laptop):
        assert (await gql.execute(PROFILE, token=acct.access_token)).error_code == "SESSION_REVOKED"


async def test_revoke_and_rename_of_unknown_device_is_not_found(services: Services, gql: GraphQLClient) -> None:
    phone, _ = await two_devices(services)
    result = await gql.execute('mutation { deviceRevoke(input: {deviceId: "nope"}) { revoked } }', token=phone.access_token)
    assert result.error_code == "NOT_FOUND"
    rename = 'mutation { deviceUpdateName(input: {deviceId: "nope", deviceName: "x"}) { device { deviceName } } }'
    assert (await gql.execute(rename, token=phone.access_token)).error_code == "NOT_FOUND"


async def test_rename_device(services: Services, gql: GraphQLClient) -> None:
    phone, _ = await two_devices(services)
    rename = 'mutation { deviceUpdateName(input: {deviceId: "laptop", deviceName: "Work laptop"}) { device { deviceId deviceName current } } }'
    data = await gql.data(rename, token=phone.access_token)
    assert data["deviceUpdateName"]["device"] == {"deviceId": "laptop", "deviceName": "Work laptop", "current": False}


async def test_cannot_touch_another_users_devices(services: Services, gql: GraphQLClient) -> None:
    phone, _ = await two_devices(services)
    bob = await factories.account(services, "bob", device_id="phone")
    result = await gql.execute('mutation { deviceKick(input: {deviceId: "laptop"}) { kicked } }', token=bob.access_token)
    assert result.error_code == "NOT_FOUND"
    assert (await gql.execute(PROFILE, token=phone.access_token)).error_code is None


async def test_login_again_from_the_same_device_replaces_its_session(services: Services, gql: GraphQLClient) -> None:
    await factories.register(services, "ann")
    first = await factories.login(services, "ann", device_id="phone")
    second = await factories.login(services, "ann", device_id="phone")
    assert (await gql.execute(PROFILE, token=first.access_token)).error_code == "SESSION_REVOKED"
    devices = (await gql.data(DEVICES, token=second.access_token))["deviceList"]["devices"]
    assert len(devices) == 1


async def test_bad_device_input_is_rejected(services: Services, gql: GraphQLClient) -> None:
    await factories.register(services, "ann")
    login = f"""mutation($d: String!, $p: String!) {{ accountAuthLogin(input: {{username: "ann", password: "{factories.PASSWORD}", deviceId: $d, platform: $p}}) {{ accessToken }} }}"""
    assert (await gql.execute(login, {"d": "", "p": "android"})).error_code == "BAD_USER_INPUT"
    assert (await gql.execute(login, {"d": "x" * 200, "p": "android"})).error_code == "BAD_USER_INPUT"
    assert (await gql.execute(login, {"d": "ok", "p": "toaster"})).error_code == "BAD_USER_INPUT"
