"""The demo gateway applies the policies: real tokens, real server, masked fields."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.cli.main import main
from gateway.endpoint.options import GraphQLOptions
from gateway.service.local import LocalSource
from gateway.service.services import Services
from gateway.web.app import create_app
from policies import PolicySet
from tests.support.demo_tokens import OWNER, OWNER_ID, QUERY, ask, owned_robot, token_for


@pytest.mark.process
def test_anonymous_sees_public_fields_only(served, tmp_path):
    code = owned_robot(tmp_path)
    response = ask(served, code)
    body = response.json()
    robot = body["data"]["robot"]
    assert robot["manufacturer"]["name"]
    assert robot["maintenance"] is None and robot["condition"] is None
    denied = {tuple(e["path"]) for e in body["errors"]}
    assert ("robot", "maintenance") in denied
    assert all(e["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE" for e in body["errors"])
    assert OWNER not in response.text, "the owner's name is PERSONAL"


@pytest.mark.process
def test_owner_sees_its_robot_but_not_restricted_findings(served, tmp_path):
    code = owned_robot(tmp_path)
    body = ask(served, code, token_for("fleet-owner", served, tmp_path)).json()
    robot = body["data"]["robot"]
    assert robot["ownership"][-1]["owner"] == OWNER
    assert robot["condition"]["batteryHealthPct"] > 0
    assert robot["maintenance"] is not None
    assert {e["extensions"]["code"] for e in body.get("errors", [])} <= {
        "UNAUTHORIZED_FIELD_OR_TYPE"
    }


@pytest.mark.process
def test_buyer_sees_condition_but_not_the_owner(served, tmp_path):
    code = owned_robot(tmp_path)
    response = ask(served, code, token_for("used-robot-buyer", served, tmp_path))
    robot = response.json()["data"]["robot"]
    assert robot["condition"]["batteryHealthPct"] > 0
    assert robot["ownership"] is None or all(o["owner"] is None for o in robot["ownership"])
    assert OWNER not in response.text


@pytest.mark.process
def test_bad_tokens_get_401_with_www_authenticate_and_no_data(served, tmp_path):
    code = owned_robot(tmp_path)
    good = token_for("fleet-owner", served, tmp_path)
    header, payload, signature = good.split(".")
    for token in ["nonsense", f"{header}.{payload}.{signature[:-4]}AAAA", f"{header}.{payload}."]:
        response = ask(served, code, token)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer ")
        assert "data" not in response.json()
        assert OWNER not in response.text


@pytest.mark.process
def test_token_command_prints_a_token_the_gateway_accepts(served, tmp_path, capsys):
    port = served.rsplit(":", 1)[1]
    args = ["token", "used-robot-buyer", "--port", port, "--data-dir", str(tmp_path / "data")]
    assert main(args) == 0
    token = capsys.readouterr().out.strip()
    code = owned_robot(tmp_path)
    assert ask(served, code, token).status_code == 200
    assert main(["token", "nobody", "--data-dir", str(tmp_path / "data")]) == 2


@pytest.mark.process
def test_owner_filter_answers_only_the_owner_itself(served, tmp_path):
    query = """query ($o: String) { robots(first: 5, filter: {ownerId: $o}) { totalCount } }"""
    by_name = """query ($o: String) { robots(first: 5, filter: {owner: $o}) { totalCount } }"""

    def count(token: str | None, query: str = query, owner: str = OWNER_ID) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body = {"query": query, "variables": {"o": owner}}
        return httpx.post(f"{served}/graphql", json=body, headers=headers)

    named = count(token_for("fleet-owner", served, tmp_path), by_name, OWNER).json()
    assert named["data"] is None, "a name filter is never matched, not even the caller's own"
    assert named["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"

    anonymous = count(None).json()
    assert anonymous["data"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
    assert "totalCount" not in str(anonymous["data"])
    buyer = count(token_for("used-robot-buyer", served, tmp_path)).json()
    assert buyer["data"] is None
    owner = count(token_for("fleet-owner", served, tmp_path)).json()
    assert owner["data"]["robots"]["totalCount"] >= 1


def reject_client(store, on_denied: str):
    app = create_app(
        Services(LocalSource(store), PolicySet.demo()), GraphQLOptions(on_denied=on_denied)
    )
    transport = httpx.ASGITransport(app=app)

    async def post(query: str, code: str, headers: dict) -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            body = {"query": query, "variables": {"code": code}}
            return await client.post("/graphql", json=body, headers=headers)

    return lambda query, code, headers=None: asyncio.run(post(query, code, headers or {}))


PUBLIC_ONLY = "query ($code: RobotCode!) { robot(code: $code) { code manufacturer { name } } }"


def test_reject_mode_fails_the_whole_operation_on_a_denied_field(store):
    code = store.codes(limit=1)[0]
    ask_ = reject_client(store, "reject")
    body = ask_(QUERY, code).json()
    assert body["data"] is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"UNAUTHORIZED_FIELD_OR_TYPE"}
    fine = ask_(PUBLIC_ONLY, code).json()
    assert "errors" not in fine and fine["data"]["robot"]["code"] == code


def test_a_caller_may_ask_for_reject_but_not_for_null(store):
    code = store.codes(limit=1)[0]
    lenient, strict = reject_client(store, "null"), reject_client(store, "reject")
    assert lenient(QUERY, code).json()["data"]["robot"]["code"] == code
    assert lenient(QUERY, code, {"robopass-on-denied": "reject"}).json()["data"] is None
    assert strict(QUERY, code, {"robopass-on-denied": "null"}).json()["data"] is None


def test_unknown_on_denied_mode_is_refused(store):
    with pytest.raises(ValueError, match="on_denied must be one of null, reject"):
        reject_client(store, "ignore")
