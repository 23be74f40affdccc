"""A minimal Entra ID token endpoint, so the real ``ClientSecretCredential`` (MSAL underneath) can log in here.

It serves the tenant's OpenID configuration and the client-credentials grant, and issues the endpoint's bearer token
to the service principals it knows. Anything else (user flows, certificates, refresh) is not served.
"""

from __future__ import annotations

import hmac
from typing import Any

from lab.azure._http import Request, Response, Router

__all__ = ["IdentityService"]


class IdentityService:
    def __init__(self, principals: dict[tuple[str, str], str], token: str) -> None:
        self.principals = principals
        self.token = token

    def register(self, router: Router) -> None:
        router.add("GET", r"/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration", self._configuration)
        router.add("POST", r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token", self._token)

    def _configuration(self, request: Request, tenant: str) -> Response:
        base = f"{request.base_url}/{tenant}"
        return Response(
            200,
            {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "tenant_region_scope": None,
            },
        )

    def _token(self, request: Request, tenant: str) -> Response:
        form: dict[str, Any] = request.body if isinstance(request.body, dict) else {}
        expected = self.principals.get((tenant, str(form.get("client_id", ""))))
        secret = str(form.get("client_secret", ""))
        if form.get("grant_type") != "client_credentials" or expected is None:
            return _aad_error(400, "unauthorized_client", "AADSTS700016: Application not found in the directory.")
        if not hmac.compare_digest(secret.encode(), expected.encode()):
            return _aad_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        return Response(
            200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": self.token}
        )


def _aad_error(status: int, error: str, description: str) -> Response:
    return Response(status, {"error": error, "error_description": description, "error_codes": [7000215]})
