"""The asyncio driver of one native connection, whatever its transport.

A listener hands received bytes to `Connection.data_received`; the sans-I/O `Session`
answers with actions, run here: frames are written to the transport, CONNECT and RPCs
run as tasks against the dispatcher, the push pump feeds PUSH frames. Transports only
move bytes (gateway_native/listeners/).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from app.errors import AppError
from app.faults import as_app_error
from app.principal import Principal
from gateway_native.dispatch import Caller
from gateway_native.push import pump
from gateway_native.session import Action, Authenticate, Call, Close, DisconnectCode, RpcError, Send, Session, State

if TYPE_CHECKING:
    from gateway_native.gateway import Gateway

log = logging.getLogger(__name__)


class Transport(Protocol):
    """What a listener gives the driver: buffered, non-blocking writes and a close."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """Close after what was written has been flushed."""


class Connection:
    __slots__ = (
        "__weakref__",
        "_exit",
        "_gateway",
        "_push_task",
        "_timer",
        "_write_paused",
        "caller",
        "label",
        "principal",
        "session",
        "transport",
    )

    def __init__(self, gateway: Gateway, transport: Transport, *, label: str, ip: str | None) -> None:
        self._gateway = gateway
        self.transport = transport
        self.label = label
        self.caller = Caller(transport=label, ip=ip)
        self.principal: Principal | None = None
        loop = asyncio.get_running_loop()
        self.session = Session(gateway.limits, loop.time(), gateway.observer(label))
        self._timer: asyncio.TimerHandle | None = None
        self._push_task: asyncio.Task[None] | None = None
        self._exit: contextlib.AsyncExitStack | None = None
        self._write_paused: asyncio.Future[None] | None = None
        self._arm_timer()

    @property
    def closed(self) -> bool:
        return self.session.state is State.CLOSED

    # -- from the transport ---------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._run(self.session.receive_data(data, asyncio.get_running_loop().time()))

    def connection_lost(self) -> None:
        self.session.connection_lost()
        self._teardown()

    def pause_writing(self) -> None:
        """The transport's write buffer is full: stop pulling pushes (the hub's bounded
        queue then overflows into a resync instead of this process's memory growing)."""
        if self._write_paused is None:
            self._write_paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._write_paused is not None:
            if not self._write_paused.done():
                self._write_paused.set_result(None)
            self._write_paused = None

    async def writable(self) -> None:
        if self._write_paused is not None:
            await self._write_paused

    # -- from the server ------------------------------------------------------------------

    def disconnect(self, code: str, reason: str) -> None:
        self._run(self.session.disconnect(code, reason))

    def begin_shutdown(self) -> None:
        self._run(self.session.begin_shutdown())

    def push(self, frame: bytes) -> None:
        self._run(self.session.push(frame))

    # -- running actions ------------------------------------------------------------------

    def _run(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                self.transport.write(action.data)
            elif isinstance(action, Call):
                self._spawn(self._call(action))
            elif isinstance(action, Authenticate):
                if not action.renewal:
                    # RPCs pipelined behind the CONNECT carry its token (each is checked on its own).
                    self.caller = dataclasses.replace(self.caller, token=action.token)
                self._spawn(self._authenticate(action))
            elif isinstance(action, Close):
                self._gateway.closed_with(self.label, action.code)
                self.transport.close()
                self._teardown()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._gateway.track(asyncio.create_task(work))

    async def _call(self, call: Call) -> None:
        outcome = await self._gateway.dispatcher.call(self.caller, call.route, call.args)
        if isinstance(outcome, RpcError):
            self._run(self.session.rpc_finished(call.id, error=outcome))
        else:
            self._run(self.session.rpc_finished(call.id, data=outcome))

    async def _authenticate(self, request: Authenticate) -> None:
        async with self._gateway.admissions:
            if self.closed:  # gave up waiting (auth deadline) or went away
                return
            await self._admit(request)

    async def _admit(self, request: Authenticate) -> None:
        try:
            admission = await self._gateway.dispatcher.admit(request.token, request.device_id)
        except AppError as exc:
            self._run(self.session.authentication_failed(exc.code.value, exc.message))
            return
        except Exception as exc:  # INTERNAL for a bug, UNAVAILABLE (retry) when a dependency is down
            error = as_app_error(exc, what="CONNECT")
            self._run(self.session.authentication_failed(error.code.value, error.message))
            return
        if self.closed:
            return
        principal = admission.principal
        if request.renewal:
            assert self.principal is not None
            if principal.session_id != self.principal.session_id:
                self._run(
                    self.session.authentication_failed(
                        DisconnectCode.PROTOCOL_ERROR, "a renewed token must belong to the connected device session"
                    )
                )
                return
        else:
            self.principal = principal
            # Indexed before anything else is awaited: a revocation from now on closes us.
            self._gateway.joined(self)
            # Listen (held) before acknowledging, so nothing committed from now on is missed:
            # it is either in the client's sync or released after its sync/session_ready.
            exit_stack = contextlib.AsyncExitStack()
            listener = await exit_stack.enter_async_context(self._gateway.hub.listen(principal, hold=True))
            if self.closed:  # revoked or gone while the listener was being set up
                await exit_stack.aclose()
                return
            self._exit = exit_stack
            self._push_task = asyncio.create_task(pump(listener, self._gateway.push_frames, self.push, self.writable))
        self.caller = dataclasses.replace(self.caller, token=request.token, platform=request.platform or None)
        self._run(
            self.session.authenticated(
                session_id=str(principal.session_id),
                user_id=str(principal.user_id),
                server_time_ms=admission.server_time_ms,
                update_seq=admission.update_seq,
            )
        )

    # -- timers and teardown ----------------------------------------------------------------

    def _arm_timer(self) -> None:
        deadline = self.session.next_deadline()
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._run(self.session.handle_timer(asyncio.get_running_loop().time()))
        if not self.closed:
            # Activity moved the deadline on: one timer per connection, re-armed lazily.
            self._arm_timer()

    def _teardown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._push_task is not None:
            self._push_task.cancel()
            self._push_task = None
        if self._exit is not None:
            exit_stack, self._exit = self._exit, None
            self._spawn(exit_stack.aclose())
        self.resume_writing()
        self._gateway.left(self)
