"""cloudagent: gossip membership agent for Hadoop containers."""

__version__ = "0.1.0"
