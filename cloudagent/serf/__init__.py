"""Serf: our RPC client and the supervised ``serf agent`` process."""
