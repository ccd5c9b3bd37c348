"""Sustained persisted messages per second with N connected native senders (TCP), each in
its own direct channel with a connected receiver, against one real server process. Not a
test.

    .venv/bin/python -m bench.gateway_throughput                    # PostgreSQL + Redis, 100 senders
    .venv/bin/python -m bench.gateway_throughput --window 4         # 4 sends in flight per sender

Every counted send has its RPC_RESULT, i.e. is committed; receivers drain their pushes.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from bench.common import Accounts, add_backend_argument, bounded, rss_mib, running_server
from gateway_native.client import Endpoint, NativeConnection


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_backend_argument(parser)
    parser.add_argument("--senders", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured sending time")
    parser.add_argument("--window", type=int, default=1, help="sends in flight per sender")
    args = parser.parse_args()
    async with running_server(args.backend) as server:
        accounts = Accounts(server)

        async def pair() -> tuple[str, str, str]:
            _, _, sender = await accounts.user("s")
            _, receiver_id, receiver = await accounts.user("r")
            return sender, receiver, await accounts.direct(sender, receiver_id)

        pairs = await bounded(8, [pair() for _ in range(args.senders)])
        await accounts.close()
        where = Endpoint("tcp", "127.0.0.1", server.tcp_port)
        connections: list[NativeConnection] = []
        pushed = 0

        async def drain(conn: NativeConnection) -> None:
            nonlocal pushed
            while True:
                await conn.pushes.get()
                pushed += 1

        senders = []
        drains = []
        for sender_token, receiver_token, _ in pairs:
            sender = await NativeConnection.open(where, ping_interval=None, max_inflight=args.window)
            await sender.connect(sender_token, device_id="bench")
            receiver = await NativeConnection.open(where, ping_interval=None)
            await receiver.connect(receiver_token, device_id="bench")
            await receiver.call("sync/session_ready")
            senders.append(sender)
            connections += [sender, receiver]
            drains.append(asyncio.create_task(drain(receiver)))

        sent = 0
        stop_at = 0.0

        async def run(conn: NativeConnection, channel: str) -> None:
            nonlocal sent
            while time.perf_counter() < stop_at:
                args_ = {"channelId": channel, "clientMsgId": uuid.uuid4().hex, "content": {"text": {"text": "t"}}}
                await conn.call("message/send", args_)
                sent += 1

        # warm-up, then the measured window
        stop_at = time.perf_counter() + 2
        await asyncio.gather(*(run(s, p[2]) for s, p in zip(senders, pairs, strict=True)))
        sent = 0
        started = time.perf_counter()
        stop_at = started + args.seconds
        workers = [run(s, p[2]) for s, p in zip(senders, pairs, strict=True) for _ in range(args.window)]
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - started
        assert server.proc is not None
        print(
            f"backend: {args.backend}; {args.senders} connected senders (+{args.senders} receivers), "
            f"window {args.window}"
        )
        print(f"persisted messages/s: {sent / elapsed:.0f} ({sent} in {elapsed:.1f} s); pushes received: {pushed}")
        print(f"server RSS: {rss_mib(server.proc.pid):.0f} MiB")
        for task in drains:
            task.cancel()
        for conn in connections:
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
