"""A small asyncio client for Serf's RPC protocol: msgpack over TCP, described at
https://www.serf.io/docs/agent/rpc.html and implemented in serf's ``cmd/serf/command/agent/ipc.go``.

Why our own: serf-python does not import on Python 3; serfclient is synchronous and lacks
tags; asyncserf needs old pins of anyio and msgpack (docs/architecture.md).

The stream carries concatenated msgpack objects: a response header ``{"Seq", "Error"}``,
followed by a body for the commands in BODY_COMMANDS. A ``stream`` subscription is
acknowledged by a bare header and then push header+body records under the same Seq.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgpack

from cloudagent.endpoint import Endpoint
from cloudagent.errors import CloudagentError
from cloudagent.secret import Secret

log = logging.getLogger(__name__)

BODY_COMMANDS: Final = frozenset(
    {"members", "members-filtered", "join", "stats", "get-coordinate",
     "install-key", "use-key", "remove-key", "list-keys"}
)  # fmt: skip
# Refusals sent as a bare header whatever the command (ipc.go handleRequest).
HEADER_ONLY_ERRORS: Final = frozenset({"Handshake required", "Authentication required"})
MEMBER_EVENTS: Final = "member-join,member-leave,member-failed,member-update,member-reap"
# Fields of a member entry (ipc.go ``Member``) that nothing here reads: leaving them out makes
# a decoded entry ~280 bytes smaller (14 MB in a members reply of 50 000).
UNREAD: Final = frozenset(
    {"ProtocolMin", "ProtocolMax", "ProtocolCur", "DelegateMin", "DelegateMax", "DelegateCur"}
)
SHARED_UP_TO: Final = 64  # characters: shorter strings are shared (statuses, tags, names)


def _decoded_map(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """A msgpack map as a dict, without the unread member fields, and short strings shared:
    50 000 members repeat "alive" and "role": "agent", and a member's name outlives the
    reply as the reconciler's key; one object each instead of one per reply."""
    return {
        (sys.intern(k) if type(k) is str else k): (
            sys.intern(v) if type(v) is str and len(v) < SHARED_UP_TO else v
        )
        for k, v in pairs
        if k not in UNREAD
    }


class SerfError(CloudagentError):
    """Talking to the local serf agent failed."""


class SerfConnectionError(SerfError):
    """No connection to the serf agent, or it was lost."""


class SerfRPCError(SerfError):
    """The serf agent refused a command; carries its message."""

    def __init__(self, command: str, message: str, body: Any = None) -> None:
        self.command = command
        self.message = message
        self.body = body  # the reply body sent with the error, if any (keyring commands)
        super().__init__(f"serf {command}: {message}")


_CLOSED: Final = object()


class Subscription:
    """Records pushed on a ``stream`` subscription (one per event)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._error: BaseException | None = None

    def _push(self, record: object) -> None:
        self._queue.put_nowait(record)

    def _close(self, error: BaseException) -> None:
        self._error = error
        self._queue.put_nowait(_CLOSED)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            record = await self._queue.get()
            if record is _CLOSED:
                raise self._error or SerfConnectionError("subscription closed")
            if isinstance(record, dict):
                yield record


@dataclass
class _Request:
    command: str
    future: asyncio.Future[Any]
    has_body: bool
    subscription: Subscription | None = field(default=None)


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():  # a caller that timed out cancelled it
        future.set_result(value)


def _reject(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


class SerfRPC:
    """One RPC connection. Build it with :meth:`connect`; close it with :meth:`close`."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.timeout = timeout
        self._seq = itertools.count()
        self._packer = msgpack.Packer()
        self._unpacker = msgpack.Unpacker(
            raw=False, unicode_errors="surrogateescape", object_pairs_hook=_decoded_map
        )
        self._pending: dict[int, _Request] = {}
        self._streams: dict[int, Subscription] = {}
        self._body_for: Callable[[Any], None] | None = None
        self._error: SerfError | None = None
        self.closed = asyncio.Event()
        self._task = asyncio.create_task(self._read_loop())

    @classmethod
    async def connect(
        cls,
        endpoint: Endpoint,
        auth: Secret | None = None,
        timeout: float = 10.0,
        sock: socket.socket | None = None,
    ) -> SerfRPC:
        """Connect, handshake and authenticate. ``sock``: a socket already connected to
        ``endpoint`` (the benchmark makes one inside a container's network namespace)."""
        try:
            opening = (
                asyncio.open_connection(sock=sock)
                if sock is not None
                else asyncio.open_connection(endpoint.host, endpoint.port)
            )
            reader, writer = await asyncio.wait_for(opening, timeout)
        except (OSError, TimeoutError) as exc:
            raise SerfConnectionError(f"cannot reach serf RPC at {endpoint}: {exc}") from exc
        client = cls(reader, writer, timeout)
        try:
            await client._call("handshake", {"Version": 1})
            if auth is not None:
                await client._call("auth", {"AuthKey": auth.reveal()})
        except BaseException:
            await client.close()
            raise
        return client

    async def close(self) -> None:
        """Close the connection; every pending call and subscription fails."""
        self._fail(SerfConnectionError("connection closed"))
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    # --- commands -------------------------------------------------------------------------

    async def members(self) -> list[dict[str, Any]]:
        """Every member this agent knows, as Serf sends them (less the protocol versions)."""
        body = await self._call("members")
        return list(body.get("Members") or [])

    async def members_filtered(
        self, name: str = "", status: str = "", tags: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Members whose name, status and tags match these regexes (anchored by Serf)."""
        body = await self._call(
            "members-filtered", {"Tags": dict(tags or {}), "Status": status, "Name": name}
        )
        return list(body.get("Members") or [])

    async def join(self, addresses: Sequence[str], replay: bool = False) -> int:
        """Join the cluster through any of ``addresses``; returns how many were contacted."""
        body = await self._call(
            "join", {"Existing": list(addresses), "Replay": replay}, timeout=max(30.0, self.timeout)
        )
        return int(body.get("Num", 0))

    async def leave(self) -> None:
        """Leave the cluster gracefully; the serf agent shuts down afterwards."""
        await self._call("leave", timeout=max(15.0, self.timeout))

    async def set_tags(self, tags: Mapping[str, str], delete: Sequence[str] = ()) -> None:
        """Set and delete this agent's tags (gossiped as a member-update)."""
        await self._call("tags", {"Tags": dict(tags), "DeleteTags": list(delete)})

    async def stream(self, types: str = MEMBER_EVENTS) -> Subscription:
        """Subscribe to (coalesced) events of ``types``."""
        subscription = Subscription()
        await self._call("stream", {"Type": types}, subscription=subscription)
        return subscription

    async def stats(self) -> dict[str, Any]:
        """The agent's stats maps (``agent.name`` is the running agent's node name)."""
        return dict(await self._call("stats"))

    async def keyring(self, command: str, key: Secret | None = None) -> dict[str, Any]:
        """``list-keys``, ``install-key``, ``use-key`` or ``remove-key`` across the cluster.

        Returns serf's reply (``Messages``, ``Keys``, ``NumNodes``, ``NumErr``, ``NumResp``);
        a refusal by some node raises SerfRPCError carrying that reply as ``body``.
        """
        body = None if key is None else {"Key": key.reveal()}
        return dict(await self._call(command, body, timeout=max(30.0, self.timeout)))

    async def query(self, name: str, payload: bytes = b"", timeout: float = 10.0) -> Subscription:
        """Send a query to every member; records are ``{"Type": "ack"|"response"|"done",
        "From", "Payload"}`` on the returned subscription, ``done`` last."""
        subscription = Subscription()
        body = {
            "FilterNodes": [],
            "FilterTags": {},
            "RequestAck": False,
            "Timeout": int(timeout * 1e9),  # nanoseconds (Go time.Duration)
            "Name": name,
            "Payload": payload,
        }
        await self._call("query", body, subscription=subscription)
        return subscription

    async def respond(self, query_id: int, payload: bytes) -> None:
        """Answer a query received on this connection's event stream."""
        await self._call("respond", {"ID": query_id, "Payload": payload})

    # --- plumbing -------------------------------------------------------------------------

    async def _call(
        self,
        command: str,
        body: Mapping[str, Any] | None = None,
        *,
        subscription: Subscription | None = None,
        timeout: float | None = None,
    ) -> Any:
        if self._error is not None:
            raise self._error
        seq = next(self._seq)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[seq] = _Request(command, future, command in BODY_COMMANDS, subscription)
        data = self._packer.pack({"Command": command, "Seq": seq})
        if body is not None:
            data += self._packer.pack(dict(body))
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError as exc:
            self._fail(SerfConnectionError(f"lost the serf RPC connection: {exc}"))
            raise SerfConnectionError(f"lost the serf RPC connection: {exc}") from exc
        try:
            return await asyncio.wait_for(future, timeout or self.timeout)
        except TimeoutError:
            raise SerfError(
                f"serf {command}: no reply within {timeout or self.timeout:g}s"
            ) from None

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    raise SerfConnectionError("the serf agent closed the RPC connection")
                self._unpacker.feed(data)
                for obj in self._unpacker:
                    self._dispatch(obj)
        except SerfError as exc:
            self._fail(exc)
        except (OSError, ValueError, msgpack.UnpackException) as exc:
            self._fail(SerfConnectionError(f"serf RPC connection failed: {exc}"))

    def _dispatch(self, obj: Any) -> None:
        if self._body_for is not None:
            consume, self._body_for = self._body_for, None
            consume(obj)
            return
        if not isinstance(obj, dict) or not isinstance(obj.get("Seq"), int):
            raise SerfConnectionError(f"unexpected RPC record {obj!r:.80}")
        seq, error = obj["Seq"], obj.get("Error") or ""
        if seq in self._streams:
            self._body_for = self._streams[seq]._push
            return
        request = self._pending.pop(seq, None)
        if request is None:
            raise SerfConnectionError(f"RPC reply for unknown sequence number {seq}")
        if error:
            failure = SerfRPCError(request.command, error)
            if request.has_body and error not in HEADER_ONLY_ERRORS:
                self._body_for = lambda body: _reject(
                    request.future, SerfRPCError(request.command, error, body)
                )
            else:
                _reject(request.future, failure)
        elif request.subscription is not None:
            self._streams[seq] = request.subscription
            _resolve(request.future, None)
        elif request.has_body:
            self._body_for = lambda body: _resolve(request.future, body)
        else:
            _resolve(request.future, None)

    def _fail(self, error: SerfError) -> None:
        if self._error is None:
            self._error = error
        for request in self._pending.values():
            _reject(request.future, error)
        self._pending.clear()
        for subscription in self._streams.values():
            subscription._close(error)
        self._streams.clear()
        self.closed.set()
