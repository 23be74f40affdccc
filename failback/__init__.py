"""Code shared by the agent and the controller: errors, identities, TLS, gRPC serving, configuration, systemd.

This package must never import ``agent``, ``controller`` or ``lab``: both roles depend on it, not the reverse.
"""

from failback._version import __version__

__all__ = ["__version__"]
