"""The service port lets the built-in web client (served on the client port: another
origin) make tus uploads, and nothing else: not other origins, not other methods or
headers, not downloads (the page shows files with <img src> and links, which need no
CORS)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from app import runtime
from app.asgi import service_app
from app.config import Settings
from tests.support import factories
from tests.support import files as media

PAGE = "http://files.test:9080"  # the web client's origin: the host called, on http.ws_port


def preflight(method: str = "PATCH", headers: str = "tus-resumable, upload-offset, content-type") -> dict[str, str]:
    return {"origin": PAGE, "access-control-request-method": method, "access-control-request-headers": headers}


@pytest.fixture
async def http(settings_factory: Callable[..., Settings]) -> AsyncIterator[tuple[httpx.AsyncClient, runtime.Services]]:
    settings = settings_factory(http={"ws_port": 9080, "cors_origins": ["https://chat.example.org"]})
    services = runtime.build_services(settings)
    await runtime.start(services)
    try:
        transport = httpx.ASGITransport(app=service_app(services), client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://files.test:9083") as client:
            yield client, services
    finally:
        await runtime.stop(services)


async def test_the_web_client_may_upload_with_tus_and_read_what_tus_needs(
    http: tuple[httpx.AsyncClient, runtime.Services],
) -> None:
    client, services = http
    ok = await client.options("/api/app/files/tus/some-key", headers=preflight())
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == PAGE
    assert set(ok.headers["access-control-allow-methods"].split(", ")) == {"POST", "HEAD", "PATCH", "DELETE"}
    assert "access-control-allow-credentials" not in ok.headers
    ann = await factories.account(services, "ann")
    pdf = media.pdf()
    ticket = await services.files.request_upload(
        ann.principal, name="a.pdf", size=len(pdf), mime="application/pdf", purpose="message"
    )
    upload_path = ticket.upload_url.split("9083", 1)[1]
    created = await client.post(
        upload_path, headers={"origin": PAGE, "Tus-Resumable": "1.0.0", "Upload-Length": str(len(pdf))}
    )
    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == PAGE
    exposed = {h.strip().lower() for h in created.headers["access-control-expose-headers"].split(",")}
    assert exposed == {"location", "upload-offset", "upload-length"}  # what tus-js-client reads, no more
    patched = await client.patch(
        created.headers["location"].split("9083", 1)[1],
        content=pdf,
        headers={
            "origin": PAGE,
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert patched.status_code == 204
    assert patched.headers["access-control-allow-origin"] == PAGE


async def test_nothing_else_is_allowed_to_the_web_client(http: tuple[httpx.AsyncClient, runtime.Services]) -> None:
    client, _ = http
    # No other header (an Authorization header would be a bearer token sent cross-origin).
    refused = await client.options("/api/app/files/tus/k", headers=preflight(headers="authorization"))
    assert refused.status_code == 400
    assert (await client.options("/api/app/files/tus/k", headers=preflight(method="PUT"))).status_code == 400
    # Downloads: no CORS for the page (it does not read them from script).
    download = await client.get("/api/app/files/f1", headers={"origin": PAGE})
    assert "access-control-allow-origin" not in download.headers
    pre = await client.options("/api/app/files/f1", headers=preflight(method="GET", headers="range"))
    assert "access-control-allow-origin" not in pre.headers
    # Another port or host of the same name is another origin.
    for origin in ("http://files.test:9081", "https://files.test:9080", "http://evil.test:9080", "null"):
        other = await client.options(
            "/api/app/files/tus/k", headers={"origin": origin, "access-control-request-method": "PATCH"}
        )
        assert "access-control-allow-origin" not in other.headers, origin
    # The configured origins keep their own (wider) rules.
    configured = await client.options(
        "/api/app/files/tus/k",
        headers={"origin": "https://chat.example.org", "access-control-request-method": "PATCH"},
    )
    assert configured.headers["access-control-allow-origin"] == "https://chat.example.org"


async def test_without_the_web_client_its_origin_gets_nothing(settings_factory: Callable[..., Settings]) -> None:
    services = runtime.build_services(settings_factory(http={"ws_port": 9080, "web_client": False}))
    await runtime.start(services)
    try:
        transport = httpx.ASGITransport(app=service_app(services), client=("127.0.0.1", 50001))
        async with httpx.AsyncClient(transport=transport, base_url="http://files.test:9083") as client:
            answer = await client.options("/api/app/files/tus/k", headers=preflight())
            assert "access-control-allow-origin" not in answer.headers
    finally:
        await runtime.stop(services)
