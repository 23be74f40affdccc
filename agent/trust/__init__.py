"""Joining a controller and staying trusted: registration, certificate renewal, revocation lists.

Once registered, the agent reports to the controller with a heartbeat (version, problems, capacity).

Registration is trust-on-first-use done safely: the operator gives the agent the CA's SHA-256 fingerprint with the
token, and the agent verifies the controller against it *before* it sends the token. The private key is generated
here and never leaves the machine.
"""

from agent.trust._bootstrap import fetch_pinned_ca
from agent.trust._heartbeat import Heartbeat, StatusReport
from agent.trust._keeper import CertificateKeeper
from agent.trust._registration import Registration, register
from agent.trust.errors import RegistrationError, TrustError

__all__ = [
    "CertificateKeeper",
    "Heartbeat",
    "Registration",
    "RegistrationError",
    "StatusReport",
    "TrustError",
    "fetch_pinned_ca",
    "register",
]
