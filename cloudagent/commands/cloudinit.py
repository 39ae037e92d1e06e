"""``cloudagent cloudinit render``: user-data for a cloud VM."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, TextIO

from cloudagent.environ import Collector
from cloudagent.errors import ExitStatus
from cloudagent.secret import Secret
from cloudagent.userdata import UserData, render
from cloudagent.values import encrypt_key, new_gossip_key


def register(sub: Any) -> None:
    """Add ``cloudinit render``."""
    ci = sub.add_parser("cloudinit", help="cloud-init user-data for cloud VMs")
    csub = ci.add_subparsers(dest="cloudinit_command", metavar="ACTION", required=True)
    r = csub.add_parser(
        "render",
        help="print #cloud-config user-data that installs Docker and starts the container",
        description="Secrets come from the environment, never the command line: "
        "SERF_ENCRYPT_KEY(_FILE) for gossip encryption (a server without one gets a new key; "
        "an agent needs the cluster's), DEFAULT_PASSWORD(_FILE) for the cluster's "
        "default_password, AMBARI_PASSWORD(_FILE). They land in 0600 files on the VM.",
    )
    r.add_argument("--role", required=True, choices=("server", "agent"))
    r.add_argument("--join-ip", help="the address every node joins (the server's); agents need it")
    r.add_argument(
        "--image", default="cloudagent:latest", help="the image to run (pullable on the VM)"
    )
    r.add_argument(
        "--advertise-ip",
        default="auto",
        help="auto (the VM's first address), none (serf decides) or an IP",
    )
    r.add_argument("--domain", default="cluster.internal")
    r.add_argument("--network", default="host", help="docker network (default: host networking)")
    r.add_argument("--expected-hosts", type=int, default=1, help="server: EXPECTED_HOST_COUNT")
    r.add_argument("--blueprint", help="server: a shipped blueprint's name")
    r.add_argument("--cluster", help="server: CLUSTER_NAME")
    r.add_argument("--ambari", choices=("installed", "emulator", "off"), default="installed")
    r.add_argument(
        "--no-encrypt",
        action="store_true",
        help="open gossip: no key (anyone who reaches it joins)",
    )
    r.add_argument("--rack", help="the node's Hadoop rack path, e.g. /dc1/rack1 (CLOUDAGENT_RACK)")
    r.set_defaults(handler=_render)


def _render(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    c = Collector(env)
    gossip_key = None if args.no_encrypt else c.secret("SERF_ENCRYPT_KEY", encrypt_key)
    found = {
        "DEFAULT_PASSWORD": c.secret("DEFAULT_PASSWORD"),
        "AMBARI_PASSWORD": c.secret("AMBARI_PASSWORD"),
    }
    c.finish()
    secrets: dict[str, Secret] = {name: value for name, value in found.items() if value}
    generated = gossip_key is None and not args.no_encrypt and args.role == "server"
    if generated:
        gossip_key = new_gossip_key()
    out.write(
        render(
            UserData(
                role=args.role,
                join_ip=args.join_ip,
                image=args.image,
                advertise=args.advertise_ip,
                domain=args.domain,
                network=args.network,
                expected_hosts=args.expected_hosts,
                blueprint=args.blueprint,
                cluster=args.cluster,
                ambari=args.ambari,
                secrets=secrets,
                gossip_key=gossip_key,
                key_generated=generated,
                open_gossip=args.no_encrypt,
                rack=args.rack,
            )
        )
    )
    return ExitStatus.OK
