"""Errors of the policies package, as one typed hierarchy.

Token errors carry the RFC 6750 `error` code and a description so the gateway
can answer 401/403 with a correct `WWW-Authenticate` header without knowing
why verification failed in detail.
"""

from __future__ import annotations


class PolicyError(Exception):
    """Base of every error raised by `policies`."""


class TokenError(PolicyError):
    """A bearer token was not accepted (RFC 6750 section 3.1)."""

    error = "invalid_token"
    status_code = 401

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.error_description = description


class InvalidRequest(TokenError):
    """The request carries a malformed or duplicated credential."""

    error = "invalid_request"
    status_code = 400


class InvalidToken(TokenError):
    """Expired, revoked, malformed, or not from a trusted issuer."""


class UntrustedIssuer(InvalidToken):
    """The token names an issuer that is not configured."""


class InvalidSignature(InvalidToken):
    """No trusted key of the issuer verifies the signature."""


class InvalidClaims(InvalidToken):
    """A required claim is missing, malformed, or out of its allowed range."""


class IssuerUnavailable(InvalidToken):
    """Keys or introspection of a trusted issuer could not be fetched."""


class InsufficientScope(TokenError):
    """The token is valid but does not carry the scope the request needs."""

    error = "insufficient_scope"
    status_code = 403

    def __init__(self, description: str, scope: str | None = None) -> None:
        super().__init__(description)
        self.scope = scope


class RulesError(PolicyError, ValueError):
    """A policy document does not validate; `path` names the offending key."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '/'}: {message}")
        self.path = path
        self.message = message


class AgreementError(RulesError):
    """An agreement document (native or ODRL) does not validate."""
