"""What the SD-JWT VC tests share: the registry's signing key, a holder's key, and our
verifier called as a relying party would call it, with one status list the test controls.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pytest
from joserfc.jwk import ECKey

from gateway.credentials.sdvc import (
    StatusLists,
    VerifiedPresentation,
    status_list_token,
    verify_presentation,
)
from gateway.credentials.signing import RegistrySigner
from gateway.credentials.verification import key_set

ISSUER = "https://registry.test"
STATUS_URI = ISSUER + "/credentials/status/1"


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> RegistrySigner:
    """The registry's ES256 key, from a data directory as `robopass serve` keeps it."""
    return RegistrySigner.from_data_dir(tmp_path_factory.mktemp("keys"), ISSUER, "Test registry")


@pytest.fixture(scope="module")
def holder() -> ECKey:
    """The holder's P-256 key, to which a credential is bound (`cnf.jwk`)."""
    return ECKey.generate_key("P-256", private=True)


def verify(
    signer: RegistrySigner,
    text: str,
    *,
    audience: str,
    nonce: str,
    revoked: Iterable[int] = (),
    lists: StatusLists | None = None,
    now: datetime | None = None,
) -> VerifiedPresentation:
    """Our verifier's answer, trusting `signer` and a status list revoking `revoked`."""
    token = status_list_token(signer, STATUS_URI, list(revoked))
    return verify_presentation(
        text,
        key_set(signer.jwks),
        audience=audience,
        nonce=nonce,
        status_lists=lists or (lambda uri: token),
        now=now,
    )
