"""Issue 22: a claim of the wrong JSON type is a 401 (or the signed-out page), never a 500.

Tokens are real: signed with the demo authorization server's key, which the
apps under test trust. Each example takes a valid token, replaces one claim
with a value of any JSON type (null, bool, int, huge int, float, string, list,
object, nested) and presents it to every authenticated surface of a real app
in process: GraphQL, the export download, the fleet export, the AAS API, the
report page through the session cookie, and a registry node's service routes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from joserfc import jwt

from gateway.edge.auth import demo_issuer
from gateway.node import create_node_app
from gateway.report.session import COOKIE
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.store import SqliteStore
from gateway.web.app import create_app
from policies import PolicySet, TokenError, TokenVerifier
from policies.authserver import issue_token, signing_key
from tests.support.tokens import CN, claims, sign, verifier

ISSUER = "http://test/auth"
READER = "fleet-owner"
SERVICE = "robopass-gateway"
ROBOT_QUERY = "query ($c: RobotCode!) { robot(code: $c) { code } }"

# The test's own statement of which JSON types each claim may have (not the code's table).
TEXT = (str,)
NUMBER = (int, float)
TYPES: dict[str, tuple[type, ...]] = {
    "iss": TEXT,
    "sub": TEXT,
    "jti": TEXT,
    "client_id": TEXT,
    "org": TEXT,
    "jurisdiction": TEXT,
    "role": TEXT,
    "aud": (str, list),
    "exp": NUMBER,
    "iat": NUMBER,
    "nbf": NUMBER,
    "scope": (str, list),
    "purposes": (str, list),
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=10**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def wrong_type(name: str, value: Any) -> bool:
    """Not of a type the claim may have; a list claim's items must be strings."""
    if isinstance(value, bool) or value is None or not isinstance(value, TYPES[name]):
        return True
    return isinstance(value, list) and not all(isinstance(v, str) for v in value)


class Minter:
    """Re-signs a real token of the demo server with one claim replaced."""

    def __init__(self, data_dir: Path, issuer: str) -> None:
        self.key = signing_key(data_dir)
        self.real = {
            client: dict(jwt.decode(issue_token(client, data_dir, issuer), self.key).claims)
            for client in (READER, SERVICE)
        }

    def token(self, client: str, name: str | None = None, value: Any = None) -> str:
        claims = dict(self.real[client])
        if name is not None:
            claims[name] = value
        header = {"alg": "RS256", "typ": "at+jwt", "kid": self.key.kid}
        return jwt.encode(header, claims, self.key, algorithms=["RS256"], default_type=None)


class Surfaces:
    """One gateway app and one node app, both trusting the demo issuer."""

    def __init__(self, store: SqliteStore, data_dir: Path) -> None:
        verifier = TokenVerifier([demo_issuer(ISSUER, data_dir)])
        self.gateway = create_app(Services(LocalSource(store), PolicySet.demo(), verifier=verifier))
        self.node = create_node_app(store, format="cn-miit", verifier=verifier)
        self.code = store.codes(limit=1)[0]

    async def _ask(self, app: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    def bearer(self, token: str) -> dict[str, httpx.Response]:
        """The bearer surfaces' answers to `token`."""
        auth = {"authorization": f"Bearer {token}"}
        asks = {
            "graphql": (
                self.gateway,
                "POST",
                "/graphql",
                {"json": {"query": ROBOT_QUERY, "variables": {"c": self.code}}},
            ),
            "export": (self.gateway, "GET", f"/robots/{self.code}/export/canonical", {}),
            "fleet": (self.gateway, "GET", "/export/fleet.ndjson", {}),
            "aas": (self.gateway, "GET", "/aas/api/v3.0/shells", {}),
        }

        async def all_of() -> dict[str, httpx.Response]:
            return {
                name: await self._ask(app, method, path, headers=auth, **kw)
                for name, (app, method, path, kw) in asks.items()
            }

        return asyncio.run(all_of())

    def node_events(self, token: str) -> httpx.Response:
        auth = {"authorization": f"Bearer {token}"}
        return asyncio.run(self._ask(self.node, "GET", f"/robots/{self.code}/events", headers=auth))

    def report(self, token: str) -> httpx.Response:
        cookies = {COOKIE: token}

        async def page() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.gateway, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", cookies=cookies
            ) as client:
                return await client.get(f"/robots/{self.code}")

        return asyncio.run(page())


@pytest.fixture(scope="module")
def setup(tmp_path_factory, fleet) -> Iterator[tuple[Surfaces, Minter]]:
    folder = tmp_path_factory.mktemp("claims")
    store = SqliteStore(folder / "registry.db")
    store.import_histories(fleet[:5])
    yield Surfaces(store, folder), Minter(folder, ISSUER)
    store.close()


def test_unchanged_tokens_are_accepted_everywhere(setup):
    """The baseline: without this, a 401 below could come from a broken minter."""
    surfaces, minter = setup
    answers = surfaces.bearer(minter.token(READER))
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 200)
    assert surfaces.node_events(minter.token(SERVICE)).status_code == 200
    page = surfaces.report(minter.token(READER))
    assert page.status_code == 200 and f'data-viewer="{READER}"' in page.text


def test_a_list_jurisdiction_names_the_claim(setup):
    surfaces, minter = setup
    answers = surfaces.bearer(minter.token(READER, "jurisdiction", ["DE", "CN"]))
    for name, response in answers.items():
        assert response.status_code == 401, name
        assert "jurisdiction" in response.headers["www-authenticate"], name
        assert "one jurisdiction" in response.text, name


@pytest.mark.slow
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.sampled_from(sorted(TYPES)), value=json_values)
@example(name="jurisdiction", value=["DE"])
@example(name="jurisdiction", value={"country": "DE"})
@example(name="org", value=["Zhulong Sales & Leasing Co., Ltd."])
@example(name="role", value=["owner"])
@example(name="exp", value=10**400)
@example(name="iat", value=True)
@example(name="sub", value="a\x00b")
@example(name="scope", value=[["robopass:read"]])
@example(name="aud", value=[{"robopass": 1}])
def test_any_claim_of_any_type_is_never_a_500(setup, name, value):
    surfaces, minter = setup
    reader = minter.token(READER, name, value)
    service = minter.token(SERVICE, name, value)
    answers = {**surfaces.bearer(reader), "node": surfaces.node_events(service)}
    statuses = {surface: r.status_code for surface, r in answers.items()}
    assert all(status < 500 for status in statuses.values()), statuses
    page = surfaces.report(reader)
    assert page.status_code == 200, page.status_code
    if wrong_type(name, value):
        assert statuses == dict.fromkeys(answers, 401), statuses
        challenges = [r.headers.get("www-authenticate", "") for r in answers.values()]
        assert all(name in c for c in challenges), challenges
        assert 'data-viewer="public"' in page.text and 'data-notice="session"' in page.text


VERIFIER = verifier()  # one for every example: its keys are loaded once


@given(name=st.sampled_from(sorted(TYPES)), value=json_values)
@settings(max_examples=400, deadline=None)
def test_the_verifier_raises_only_token_errors(name, value):
    """The same property at the verifier alone, with many more examples (no HTTP)."""
    payload = {**claims(), name: value}
    try:
        principal = asyncio.run(VERIFIER.verify(sign(payload)))
    except TokenError as exc:
        if wrong_type(name, value):
            assert name in exc.error_description
        return
    assert not wrong_type(name, value), (name, value)
    assert principal.issuer == CN
