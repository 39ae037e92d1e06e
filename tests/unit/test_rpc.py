import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from cloudagent.endpoint import Endpoint
from cloudagent.secret import Secret
from cloudagent.serf.rpc import SerfConnectionError, SerfRPC, SerfRPCError
from tests.unit.fake_serf import FakeSerf

MEMBER = {"Name": "n1", "Addr": b"\x7f\x00\x00\x01", "Port": 7946, "Status": "alive", "Tags": {}}


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def test_members_and_join_error_body() -> None:
    async def scenario() -> None:
        serf = FakeSerf()
        port = await serf.start()
        serf.members = [MEMBER]
        rpc = await SerfRPC.connect(Endpoint("127.0.0.1", port))
        assert await rpc.members() == [MEMBER]
        serf.join_error = "dial tcp 10.0.0.9:7946: connection refused"
        with pytest.raises(SerfRPCError, match="connection refused"):
            await rpc.join(["10.0.0.9:7946"])
        # The error reply carried a body; the stream stays in sync for the next call.
        assert await rpc.members() == [MEMBER]
        await rpc.set_tags({"role": "server"}, delete=["old"])
        assert ("tags", {"Tags": {"role": "server"}, "DeleteTags": ["old"]}) in serf.requests
        await rpc.close()
        await serf.stop()

    run(scenario())


def test_auth_refusals_are_bare_headers() -> None:
    async def scenario() -> None:
        serf = FakeSerf(auth_key="s3cret")
        port = await serf.start()
        serf.members = [MEMBER]
        unauthenticated = await SerfRPC.connect(Endpoint("127.0.0.1", port))
        with pytest.raises(SerfRPCError, match="Authentication required"):
            await unauthenticated.members()
        with pytest.raises(SerfRPCError, match="Authentication required"):
            await unauthenticated.members()  # still in sync: no body was expected
        await unauthenticated.close()
        with pytest.raises(SerfRPCError, match="Invalid authentication token"):
            await SerfRPC.connect(Endpoint("127.0.0.1", port), Secret("wrong"))
        good = await SerfRPC.connect(Endpoint("127.0.0.1", port), Secret("s3cret"))
        assert len(await good.members()) == 1
        await good.close()
        await serf.stop()

    run(scenario())


def test_stream_records_interleave_with_replies() -> None:
    async def scenario() -> None:
        serf = FakeSerf()
        port = await serf.start()
        rpc = await SerfRPC.connect(Endpoint("127.0.0.1", port))
        events = await rpc.stream()
        serf.push({"Event": "member-join", "Members": [MEMBER]})
        serf.members = [MEMBER]
        assert await rpc.members() == [MEMBER]
        serf.push({"Event": "member-leave", "Members": [MEMBER]})
        received = []
        async for record in events:
            received.append(record["Event"])
            if len(received) == 2:
                break
        assert received == ["member-join", "member-leave"]
        await rpc.close()
        await serf.stop()

    run(scenario())


def test_connection_loss_fails_calls_and_subscriptions() -> None:
    async def scenario() -> None:
        serf = FakeSerf()
        port = await serf.start()
        rpc = await SerfRPC.connect(Endpoint("127.0.0.1", port))
        events = await rpc.stream()
        await serf.stop()
        with pytest.raises(SerfConnectionError):
            async for _ in events:
                pass
        assert rpc.closed.is_set()
        with pytest.raises(SerfConnectionError):
            await rpc.members()
        await rpc.close()

    run(scenario())


def test_connect_refused_is_a_clear_error() -> None:
    async def scenario() -> None:
        with pytest.raises(SerfConnectionError, match=r"cannot reach serf RPC at 127\.0\.0\.1:1"):
            await SerfRPC.connect(Endpoint("127.0.0.1", 1), timeout=2)

    run(scenario())


def test_members_leave_out_the_protocol_versions_and_share_short_strings() -> None:
    versions = {"ProtocolMin": 2, "ProtocolMax": 5, "ProtocolCur": 4, "DelegateCur": 4}

    async def scenario() -> None:
        serf = FakeSerf()
        port = await serf.start()
        long_tag = "x" * 200
        serf.members = [
            {**MEMBER, **versions, "Tags": {"role": "agent", "note": long_tag}},
            {**MEMBER, **versions, "Name": "n2", "Tags": {"role": "agent"}},
        ]
        rpc = await SerfRPC.connect(Endpoint("127.0.0.1", port))
        one, two = await rpc.members()
        assert one == {**MEMBER, "Tags": {"role": "agent", "note": long_tag}}
        assert two == {**MEMBER, "Name": "n2", "Tags": {"role": "agent"}}
        assert one["Status"] is two["Status"]
        assert one["Tags"]["role"] is two["Tags"]["role"]
        await rpc.close()
        await serf.stop()

    run(scenario())
