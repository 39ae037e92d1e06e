"""cloudagent: gossip membership agent for Hadoop containers."""

__version__ = "0.1.0"

# Shared by config.load and the light `cloudagent topology` command, which must not import config.
DEFAULT_STATE_DIR = "/var/lib/cloudagent"
