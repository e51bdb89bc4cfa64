"""Who may see what: token verification, principals, visibility rules, agreements, audit.

Imports only `schema` and third-party libraries; the gateway wires these
functions into HTTP and GraphQL.
"""

from .agreements import Agreement, from_odrl, load_agreements, to_odrl
from .audit import AuditLog, AuditRecord, StoredRecord
from .errors import (
    AgreementError,
    InsufficientScope,
    InvalidClaims,
    InvalidRequest,
    InvalidSignature,
    InvalidToken,
    IssuerUnavailable,
    PolicyError,
    RulesError,
    TokenError,
    UntrustedIssuer,
)
from .issuers import ClaimMapping, Introspection, TrustedIssuer
from .mask import VisibilityMask, mask_for, redact
from .principal import PUBLIC, Principal, Role
from .rules import Relationship, Rules, load_rules
from .tokens import TokenVerifier, require_scope, www_authenticate
from .trail import TrailAccess, trail_access
from .visibility import Decision, PolicySet, is_own, relationship_of
from .writes import WRITE_SCOPE, may_accept_transfer, may_write

__all__ = [
    "PUBLIC",
    "WRITE_SCOPE",
    "Agreement",
    "AgreementError",
    "AuditLog",
    "AuditRecord",
    "ClaimMapping",
    "Decision",
    "InsufficientScope",
    "Introspection",
    "InvalidClaims",
    "InvalidRequest",
    "InvalidSignature",
    "InvalidToken",
    "IssuerUnavailable",
    "PolicyError",
    "PolicySet",
    "Principal",
    "Relationship",
    "Role",
    "Rules",
    "RulesError",
    "StoredRecord",
    "TokenError",
    "TokenVerifier",
    "TrailAccess",
    "TrustedIssuer",
    "UntrustedIssuer",
    "VisibilityMask",
    "from_odrl",
    "is_own",
    "load_agreements",
    "load_rules",
    "mask_for",
    "may_accept_transfer",
    "may_write",
    "redact",
    "relationship_of",
    "require_scope",
    "to_odrl",
    "trail_access",
    "www_authenticate",
]
