"""A refused token or field tells the caller what was expected and what to do next."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.edge.auth import demo_issuer
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from policies import PUBLIC, PolicySet, Principal, Role, TokenVerifier
from policies.authserver import issue_token
from policies.errors import UntrustedIssuer
from schema.graphql.query import build_schema


def test_a_token_for_another_port_names_the_issuer_expected(tmp_path: Path) -> None:
    trusted = "http://127.0.0.1:8123/auth"
    verifier = TokenVerifier([demo_issuer(trusted, tmp_path)])
    token = issue_token("used-robot-buyer", tmp_path, "http://127.0.0.1:8000/auth")
    with pytest.raises(UntrustedIssuer) as refused:
        asyncio.run(verifier.verify(token))
    assert str(refused.value) == f"token issuer is not trusted; expected {trusted}"
    same_port = issue_token("used-robot-buyer", tmp_path, trusted)
    assert asyncio.run(verifier.verify(same_port)).organisation == "Second Life Robots GmbH"
    asyncio.run(verifier.aclose())


def denied(store: SqliteStore, principal: Principal, query: str) -> list:
    context = Services(LocalSource(store), PolicySet.demo()).context(principal)
    result = asyncio.run(build_schema().execute(query, context_value=context))
    return [e for e in result.errors or () if e.extensions["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"]


def test_a_hidden_field_names_the_field_asked_and_the_next_step(store: SqliteStore) -> None:
    code = next(iter(store.codes(limit=1)))
    query = f'{{ robot(code: "{code}") {{ code condition {{ batteryHealthPct }} }} }}'
    [error] = denied(store, PUBLIC, query)
    assert error.message.startswith(
        "Unauthorized field: condition (it shows conditions, which this caller may not see)"
    )
    assert "anonymous caller sees public fields only" in error.message
    assert "access token" in error.message and error.extensions["field"] == "conditions"

    buyer = Principal(
        issuer="https://idp.example", subject="b", role=Role.BUYER, purposes=frozenset()
    )
    query = f'{{ robot(code: "{code}") {{ ownership {{ owner }} }} }}'
    errors = denied(store, buyer, query)
    assert errors and all(
        e.message.startswith("Unauthorized field: owner:") and "token's role" in e.message
        for e in errors
    ), [e.message for e in errors]
