"""Ambari: offline blueprint validation, the REST client, provisioning and the emulator."""
