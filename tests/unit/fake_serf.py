"""A fake serf RPC endpoint on loopback, speaking the real framing, for client unit tests."""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack

BODY_REQUESTS = {"handshake", "auth", "join", "stream", "monitor", "tags", "event"}


class FakeSerf:
    def __init__(self, auth_key: str | None = None) -> None:
        self.auth_key = auth_key
        self.members: list[dict[str, Any]] = []
        self.join_error = ""
        self.requests: list[tuple[str, Any]] = []
        self.streams: list[tuple[asyncio.StreamWriter, int]] = []
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        if self.server:
            self.server.close()
            await self.server.wait_closed()

    def push(self, record: dict[str, Any]) -> None:
        for writer, seq in self.streams:
            writer.write(msgpack.packb({"Seq": seq, "Error": ""}) + msgpack.packb(record))

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        unpacker = msgpack.Unpacker(raw=False)
        authed = self.auth_key is None
        header: dict[str, Any] | None = None
        while data := await reader.read(4096):
            unpacker.feed(data)
            for obj in unpacker:
                if header is None and obj.get("Command") in BODY_REQUESTS:
                    header = obj
                    continue
                body: Any = None
                if header is None:
                    header = obj
                else:
                    body = obj
                command, seq = header["Command"], header["Seq"]
                header = None
                self.requests.append((command, body))
                if not authed and command not in ("handshake", "auth"):
                    writer.write(msgpack.packb({"Seq": seq, "Error": "Authentication required"}))
                    continue
                if command == "auth":
                    ok = body["AuthKey"] == self.auth_key
                    authed = ok
                    error = "" if ok else "Invalid authentication token"
                    writer.write(msgpack.packb({"Seq": seq, "Error": error}))
                elif command == "members":
                    writer.write(msgpack.packb({"Seq": seq, "Error": ""}))
                    writer.write(msgpack.packb({"Members": self.members}))
                elif command == "join":
                    writer.write(msgpack.packb({"Seq": seq, "Error": self.join_error}))
                    writer.write(msgpack.packb({"Num": 0 if self.join_error else 1}))
                elif command in ("stream", "monitor"):
                    writer.write(msgpack.packb({"Seq": seq, "Error": ""}))
                    self.streams.append((writer, seq))
                elif command in ("handshake", "tags", "leave"):
                    writer.write(msgpack.packb({"Seq": seq, "Error": ""}))
                else:
                    writer.write(msgpack.packb({"Seq": seq, "Error": "Unsupported command"}))
            await writer.drain()
