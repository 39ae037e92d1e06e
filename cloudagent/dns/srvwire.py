"""The SRV responder's DNS wire format, with dnspython: a query in, the reply out."""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from cloudagent.dns.srv import SrvTable

UDP_LIMIT = 512


def udp_limit(wire: bytes) -> int:
    """The largest UDP reply the asker takes: 512 bytes, or more when it says so (EDNS)."""
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return UDP_LIMIT
    return max(UDP_LIMIT, query.payload) if query.edns >= 0 else UDP_LIMIT


def answer(wire: bytes, table: SrvTable, max_size: int = 65535) -> bytes | None:
    """The reply to one DNS query (wire format in, wire format out); None for garbage.

    Answers are authoritative with TTL 0, like dnsmasq's own (``local-ttl=0``): no resolver
    downstream keeps a departed instance. The targets' addresses go in the additional section.
    """
    try:
        query = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if len(query.question) != 1 or query.opcode() != 0:
        response.set_rcode(dns.rcode.NOTIMP if query.opcode() else dns.rcode.FORMERR)
        return response.to_wire()
    question = query.question[0]
    owner = question.name.to_text().lower()
    entries = table.records.get(owner)
    if entries is None:
        # The zone's own apex names exist (empty non-terminals); anything else does not.
        apex = {f"_tcp.{table.domain}.", f"_udp.{table.domain}."}
        if owner not in apex:
            response.set_rcode(dns.rcode.NXDOMAIN)
    elif question.rdtype in (dns.rdatatype.SRV, dns.rdatatype.ANY):
        srv = dns.rrset.from_text_list(
            question.name, 0, "IN", "SRV", [f"0 10 {p} {t}." for p, t, _ in entries]
        )
        response.answer.append(srv)
        for target, address in sorted({(t, a) for _, t, a in entries}):
            kind = "AAAA" if ":" in address else "A"
            response.additional.append(dns.rrset.from_text(f"{target}.", 0, "IN", kind, address))
    try:
        return response.to_wire(max_size=max_size)
    except dns.exception.TooBig:
        response.answer.clear()
        response.additional.clear()
        response.flags |= dns.flags.TC  # the client (dnsmasq) asks again over TCP
        return response.to_wire()
