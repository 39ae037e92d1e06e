"""Membership to DNS: the served view, its rendering, and the dnsmasq process."""
