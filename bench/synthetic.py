"""A synthetic membership source that speaks Serf's RPC protocol: SIMULATED membership.

10 000 to 50 000 members cannot run as real serf agents on one machine. This program stands
in for ``serf agent`` under a real cloudagent (``CLOUDAGENT_SERF_BIN`` points at a wrapper
that runs it): it reads the agent's serf config file, listens on its ``rpc_addr`` and answers
the commands cloudagent uses (handshake, auth, members, members-filtered, stream, monitor,
join, leave, tags) with msgpack framing as Serf does (hashicorp/serf ``client/const.go``,
``cmd/serf/command/agent/ipc.go``). Members are data only: their addresses are never bound.

Churn: after SIGUSR1, ``SYNTH_RATE`` changes per second alternate between
a new member joining and the oldest synthetic member leaving. Each change is printed as serf
prints it (``[INFO] serf: EventMemberJoin: <name> <addr>``), pushed to ``stream``
subscribers coalesced per second (as Serf coalesces member events), and appended to the
journal ``SYNTH_JOURNAL`` as ``<CLOCK_MONOTONIC seconds> <join|leave> <name> <address>``.

    python -m bench.synthetic agent -config-file=PATH
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import msgpack

BODY_REQUESTS = frozenset(
    {"handshake", "auth", "join", "stream", "monitor", "tags", "event", "members-filtered"}
)
BODY_REPLIES = frozenset({"members", "members-filtered", "join"})
BODY_REQUESTS_FILTER = "members-filtered"
SELF_OCTET = 199


def member(name: str, address: str, status: str = "alive", role: str = "agent") -> dict[str, Any]:
    """One entry of a members reply, with the fields a real serf sends."""
    return {
        "Name": name,
        "Addr": ipaddress.ip_address(address).packed,
        "Port": 7946,
        "Tags": {"role": role},
        "Status": status,
        "ProtocolMin": 2,
        "ProtocolMax": 5,
        "ProtocolCur": 4,
        "DelegateMin": 2,
        "DelegateMax": 5,
        "DelegateCur": 4,
    }


def addresses(prefix: str) -> Iterator[str]:
    """Member addresses in 127.NET.0.0/16 except 127.NET.199.0/24, where the agent under test
    listens. They are data only: nothing binds them."""
    for high in range(256):
        if high == SELF_OCTET:
            continue
        for low in range(1, 255):
            yield f"{prefix}.{high}.{low}"


class Synthetic:
    """The membership and the RPC server."""

    def __init__(self, config: dict[str, Any], size: int, prefix: str) -> None:
        self.config = config
        self.auth = config.get("rpc_auth")
        me = config["node_name"]
        my_address = config["bind"].rsplit(":", 1)[0]
        self.members: dict[str, dict[str, Any]] = {
            me: member(me, my_address, role=config.get("tags", {}).get("role", "agent"))
        }
        self._packed: dict[str, bytes] = {}
        self._free = addresses(prefix)
        self._order: list[str] = []  # synthetic members, oldest first
        self.serial = 0
        for _ in range(size):
            self._add()
        self.streams: list[tuple[asyncio.StreamWriter, int, str]] = []
        self.pending_events: list[tuple[str, dict[str, Any]]] = []
        self.stop = asyncio.Event()

    def _add(self) -> tuple[str, str]:
        self.serial += 1
        name, address = f"s{self.serial}.cluster.internal", next(self._free)
        self.members[name] = member(name, address)
        self._packed.pop(name, None)
        self._order.append(name)
        return name, address

    def _reply(self, members: list[dict[str, Any]] | None = None) -> bytes:
        """{"Members": [...]}, packed from per-member bytes kept between calls."""
        if members is not None:
            return bytes(msgpack.packb({"Members": members}))
        parts = []
        for name, entry in self.members.items():
            packed = self._packed.get(name)
            if packed is None:
                packed = self._packed[name] = bytes(msgpack.packb(entry))
            parts.append(packed)
        count = len(parts)
        # A map of one key, then an array 32 header (msgpack spec: 0x81, 0xdd).
        head = b"\x81" + bytes(msgpack.packb("Members")) + b"\xdd" + count.to_bytes(4, "big")
        return head + b"".join(parts)

    def change(self, index: int) -> tuple[str, str, str]:
        """The index-th change: joins and leaves alternate."""
        if index % 2 == 0 or not self._order:
            name, address = self._add()
            kind, event = "join", "Join"
        else:
            name = self._order.pop(0)
            entry = self.members[name]
            entry["Status"] = "left"
            self._packed.pop(name, None)
            address = str(ipaddress.ip_address(entry["Addr"]))
            kind, event = "leave", "Leave"
        stamp = time.strftime("%Y/%m/%d %H:%M:%S")
        print(f"{stamp} [INFO] serf: EventMember{event}: {name} {address}", flush=True)
        self.pending_events.append((f"member-{kind}", self.members[name]))
        return kind, name, address

    async def churn(self, rate: float, go: asyncio.Event, out: TextIO) -> None:
        await go.wait()
        start = time.monotonic()
        index = 0
        while not self.stop.is_set():
            due = start + index / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            kind, name, address = self.change(index)
            out.write(f"{time.monotonic():.6f} {kind} {name} {address}\n")
            out.flush()
            index += 1

    async def coalesce(self) -> None:
        """Push the member events of the last second, one record per event type."""
        while not self.stop.is_set():
            await asyncio.sleep(1.0)
            events, self.pending_events = self.pending_events, []
            by_type: dict[str, list[dict[str, Any]]] = {}
            for kind, entry in events:
                by_type.setdefault(kind, []).append(entry)
            for kind, entries in by_type.items():
                for writer, seq, types in self.streams:
                    if not wants(types, kind):
                        continue
                    writer.write(
                        msgpack.packb({"Seq": seq, "Error": ""})
                        + msgpack.packb({"Event": kind, "Members": entries})
                    )

    async def client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        unpacker = msgpack.Unpacker(raw=False)
        authed = self.auth is None
        header: dict[str, Any] | None = None
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                unpacker.feed(data)
                for obj in unpacker:
                    if header is None and obj.get("Command") in BODY_REQUESTS:
                        header = obj
                        continue
                    body = obj if header is not None else None
                    command, seq = (header or obj)["Command"], (header or obj)["Seq"]
                    header = None
                    authed = self.answer(writer, command, seq, body, authed)
                await writer.drain()

    def answer(
        self, writer: asyncio.StreamWriter, command: str, seq: int, body: Any, authed: bool
    ) -> bool:
        ok = msgpack.packb({"Seq": seq, "Error": ""})
        if not authed and command not in ("handshake", "auth"):
            writer.write(msgpack.packb({"Seq": seq, "Error": "Authentication required"}))
        elif command == "auth":
            authed = body.get("AuthKey") == self.auth
            error = "" if authed else "Invalid authentication token"
            writer.write(msgpack.packb({"Seq": seq, "Error": error}))
        elif command == "members":
            writer.write(ok + self._reply())
        elif command == BODY_REQUESTS_FILTER:
            pattern = re.compile(f"^(?:{(body or {}).get('Name') or '.*'})$")
            chosen = [m for n, m in self.members.items() if pattern.match(n)]
            writer.write(ok + self._reply(chosen))
        elif command == "join":
            writer.write(ok + msgpack.packb({"Num": 1}))
        elif command in ("stream", "monitor"):
            writer.write(ok)
            if command == "stream":
                self.streams.append((writer, seq, str((body or {}).get("Type", ""))))
        elif command == "tags":
            me = self.members[self.config["node_name"]]
            me["Tags"] = {**me["Tags"], **(body or {}).get("Tags", {})}
            self._packed.pop(self.config["node_name"], None)
            writer.write(ok)
        elif command == "leave":
            writer.write(ok)
            self.stop.set()
        elif command == "handshake":
            writer.write(ok)
        else:
            writer.write(msgpack.packb({"Seq": seq, "Error": "Unsupported command"}))
        return authed


def wants(types: str, kind: str) -> bool:
    """Whether a stream subscribed to ``types`` (Serf's event filter: comma-separated
    ``member-join``, ``member-*``, ``user:<name>``, ``query:<name>``, ``*``) gets ``kind``.

    >>> wants("member-join,member-leave", "member-leave"), wants("query:doctor", "member-join")
    (True, False)
    """
    for item in types.split(","):
        wanted = item.strip()
        if wanted in ("*", kind) or (wanted == "member-*" and kind.startswith("member-")):
            return True
    return False


async def serve(config: dict[str, Any], journal: TextIO | None) -> None:
    size = int(os.environ.get("SYNTH_MEMBERS", "1000"))
    synthetic = Synthetic(config, size, os.environ.get("SYNTH_PREFIX", "127.171"))
    host, port = config["rpc_addr"].rsplit(":", 1)
    server = await asyncio.start_server(synthetic.client, host, int(port))
    print(f"synthetic serf: {size} members, RPC on {config['rpc_addr']} (SIMULATED)", flush=True)
    tasks = [asyncio.create_task(synthetic.coalesce())]
    if journal is not None:
        go = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, go.set)
        rate = float(os.environ.get("SYNTH_RATE", "10"))
        tasks.append(asyncio.create_task(synthetic.churn(rate, go, journal)))
    await synthetic.stop.wait()
    for task in tasks:
        task.cancel()
    server.close()


def main(argv: list[str]) -> int:
    files = [a.split("=", 1)[1] for a in argv if a.startswith("-config-file=")]
    if not argv or argv[0] != "agent" or not files:
        print("usage: python -m bench.synthetic agent -config-file=PATH", file=sys.stderr)
        return 2
    config = json.loads(Path(files[0]).read_text())
    path = os.environ.get("SYNTH_JOURNAL")
    with contextlib.ExitStack() as stack:
        journal = stack.enter_context(Path(path).open("a", encoding="utf-8")) if path else None
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(config, journal))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
