"""Delay every packet of an NFQUEUE queue, in userspace (the kernel here has no netem).

Run inside a node's namespace, with ``iptables -A INPUT -i eth0 -j NFQUEUE --queue-num N
--queue-bypass``. Speaks the nfnetlink_queue protocol over a raw AF_NETLINK socket: bind the
queue, ask for packet metadata only, and give each packet its ACCEPT verdict once it has been
held for the delay. Protocol: linux/netfilter/nfnetlink_queue.h (nfqnl_msg_* structures).
"""

from __future__ import annotations

import argparse
import heapq
import select
import signal
import socket
import struct
import sys
import time
from typing import Any

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _message(msg: int, queue: int, attrs: bytes, seq: int, ack: bool = True) -> bytes:
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + attrs
    flags = NLM_F_REQUEST | (NLM_F_ACK if ack else 0)
    return (
        struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg, flags, seq, 0) + body
    )


def _packet_ids(data: bytes) -> list[int]:
    ids, offset = [], 0
    while offset + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, offset)
        if length < 16:
            break
        if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            pos = offset + 20  # nlmsghdr + nfgenmsg
            while pos + 4 <= offset + length:
                alen, atype = struct.unpack_from("=HH", data, pos)
                if alen < 4:
                    break
                if atype & 0x7FFF == NFQA_PACKET_HDR:
                    ids.append(struct.unpack_from("!I", data, pos + 4)[0])
                pos += alen + (-alen % 4)
        offset += length + (-length % 4)
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queue", type=int, required=True)
    parser.add_argument("--delay", type=float, required=True, help="seconds")
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((0, 0))
    cmd = struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0, socket.AF_INET)
    sock.send(_message(NFQNL_MSG_CONFIG, args.queue, _attr(NFQA_CFG_CMD, cmd), 1))
    params = struct.pack("!IB", 0xFFFF, NFQNL_COPY_META) + b"\0" * 3
    sock.send(_message(NFQNL_MSG_CONFIG, args.queue, _attr(NFQA_CFG_PARAMS, params[:5]), 2))
    held: list[tuple[float, int]] = []
    running = True

    def stop(*_: Any) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    seq = 3
    while running:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else 0.5
        readable, _, _ = select.select([sock], [], [], timeout)
        if readable:
            try:
                data = sock.recv(1 << 20)
            except OSError:  # ENOBUFS under a burst: the kernel dropped some, carry on
                continue
            release = time.monotonic() + args.delay
            for packet in _packet_ids(data):
                heapq.heappush(held, (release, packet))
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, packet = heapq.heappop(held)
            verdict = _attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet))
            sock.send(_message(NFQNL_MSG_VERDICT, args.queue, verdict, seq, ack=False))
            seq += 1
    for _, packet in held:  # let nothing hang when stopped
        verdict = _attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet))
        sock.send(_message(NFQNL_MSG_VERDICT, args.queue, verdict, seq, ack=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
