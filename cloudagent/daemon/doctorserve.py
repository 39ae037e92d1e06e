"""The agent's answer to ``cloudagent doctor --all``: run the local checks on each query.

One long-lived task with its own RPC connection (a query's ID is only valid on the connection
whose stream delivered it). It reconnects with backoff, logs each failure, and never stops the
agent. The latest local result is kept for health and metrics (:func:`latest`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from cloudagent.backoff import Backoff
from cloudagent.config import Config
from cloudagent.doctor import QUERY_NAME, Check, run_checks, summary_payload
from cloudagent.serf.rpc import SerfError, SerfRPC

log = logging.getLogger(__name__)
_latest: list[Check] = []


def latest() -> Sequence[Check]:
    """The checks of the last doctor query this agent answered (empty before the first);
    for the health and metrics endpoints."""
    return tuple(_latest)


async def answer_doctor_queries(cfg: Config) -> None:
    """Answer every ``cloudagent-doctor`` query until cancelled."""
    backoff = Backoff(initial=0.5, maximum=30.0)
    while True:
        try:
            rpc = await SerfRPC.connect(cfg.serf_rpc, cfg.rpc_auth, 10.0)
        except SerfError as exc:
            log.debug("doctor responder: serf not reachable yet (%s)", exc)
            await asyncio.sleep(backoff.next())
            continue
        try:
            backoff.reset()
            async for event in await rpc.stream(f"query:{QUERY_NAME}"):
                try:
                    # dnspython (the checks' resolver) weighs ~3 MB: loaded at the first query.
                    from cloudagent.hostfacts import gather  # noqa: PLC0415

                    raw = await rpc.members()
                    facts = await asyncio.to_thread(gather, cfg, raw, advertised=cfg.advertise)
                    checks = run_checks(facts)
                except (OSError, ValueError, RuntimeError) as exc:
                    # A check that cannot run is itself the answer; the responder lives on.
                    log.warning("doctor responder: the checks failed to run: %s", exc)
                    checks = [Check("doctor", False, f"checks failed to run: {exc}", "see the log")]
                _latest[:] = checks
                with contextlib.suppress(SerfError):  # the query may have timed out already
                    await rpc.respond(int(event.get("ID", 0)), summary_payload(cfg.fqdn, checks))
        except SerfError as exc:
            log.warning("doctor responder: %s; reconnecting", exc)
            await asyncio.sleep(backoff.next())
        finally:
            await rpc.close()
