"""The controller's private certificate authority.

Owns the CA key (ECDSA P-256, file mode 0600) and issues short-lived certificates whose identity (role and name) is
decided here, never copied blindly from a request: from a CSR we take only the public key and the extra DNS/IP names
an agent asks for. Also produces the signed revocation list agents use to refuse revoked peers.
"""

from controller.ca._authority import CertificateAuthority, IssuedCertificate

__all__ = ["CertificateAuthority", "IssuedCertificate"]
