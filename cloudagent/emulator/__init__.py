"""An Ambari emulator that follows Ambari's REST contract (reference ambari-api.md).

Ambari cannot be installed here; tests and the demo use this instead. Production code talks
to it through the same client it uses for a real Ambari and cannot tell the difference.
"""
