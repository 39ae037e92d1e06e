"""A DNS prober run inside a node's network namespace (``ip netns exec NS python -m ...``).

It asks one dnsmasq for every expected name in turn, without pause, and writes one JSON line
per change of answer (``{"t", "name", "answer"}``: a list of addresses, null for NXDOMAIN,
"timeout" for no answer) and, when stopped with SIGTERM, a last line with its counters.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any

from cloudagent.dns.query import DNSError, Lookup
from cloudagent.endpoint import Endpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)  # address:port
    parser.add_argument("--timeout", type=float, default=1.0)
    parser.add_argument("names", nargs="+")
    args = parser.parse_args(argv)
    host, port = args.server.rsplit(":", 1)
    lookup = Lookup(Endpoint(host, int(port)), timeout=args.timeout)
    running = True

    def stop(*_: Any) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    last: dict[str, object] = {}
    counts = {"queries": 0, "timeouts": 0}
    while running:
        for name in args.names:
            counts["queries"] += 1
            answer: object
            try:
                answer = lookup.addresses(name)
            except DNSError:
                answer = "timeout"
                counts["timeouts"] += 1
            if last.get(name, "unset") != answer:
                last[name] = answer
                print(json.dumps({"t": time.time(), "name": name, "answer": answer}), flush=True)
        time.sleep(0.02)
    print(json.dumps({"t": time.time(), "counts": counts}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
