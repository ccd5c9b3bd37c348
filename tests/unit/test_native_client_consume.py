"""The native SDK's live consumer (gateway_native/client/client.py `_consume`) survives a
call that goes unanswered: found by the chaos harness's slow consumer, whose gap fetch
after a long freeze timed out and silently ended live delivery on a connection that
stayed open."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway_native.client import Client


def message_event(pts: int) -> dict[str, Any]:
    return {"__typename": "MessageEvent", "channelId": "7", "pts": pts,
            "message": {"id": str(100 + pts), "pts": pts, "content": {"text": f"m{pts}"}}}


class FlakyConnection:
    """Answers sync/get_difference, except the first call, which times out."""

    def __init__(self) -> None:
        self.pushes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.calls = 0

    async def call(self, route: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        assert route == "sync/get_difference" and args is not None
        self.calls += 1
        if self.calls == 1:
            raise TimeoutError
        # The server is at pts 4 by then.
        return {"events": [message_event(p) for p in range(args["fromPts"] + 1, 5)], "isFinal": True, "tooLong": False}


async def test_a_live_event_whose_gap_fetch_times_out_does_not_end_live_delivery() -> None:
    client = Client("tcp://127.0.0.1:1", device_id="d")
    conn = FlakyConnection()
    consumer = asyncio.create_task(client._consume(conn))  # type: ignore[arg-type]
    try:
        conn.pushes.put_nowait(message_event(2))  # a gap (local pts 0): the fetch times out
        conn.pushes.put_nowait(message_event(4))  # still a gap: fetched again, then applied
        async with asyncio.timeout(5):
            await client.wait_for("7", 4)
        assert not consumer.done()
    finally:
        consumer.cancel()
    assert conn.calls == 2
    assert [m["pts"] for m in client.messages["7"]] == [1, 2, 3, 4]
