"""An Ambari emulator that follows Ambari's REST contract: the API v1 reference
(https://github.com/apache/ambari/tree/trunk/ambari-server/docs/api/v1) and the server's own
behaviour.

Ambari cannot be installed here; tests and the demo use this instead. Production code talks
to it through the same client it uses for a real Ambari and cannot tell the difference.
"""
