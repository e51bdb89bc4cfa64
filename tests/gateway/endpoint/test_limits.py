"""Query limits against a real `robopass serve`: each attack refused with its code, before work."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest
from graphql import get_introspection_query

from gateway.endpoint.limits import Limits
from tests.support.processes import running_server

pytestmark = pytest.mark.process

NORMAL = "{ robots(first: 3) { totalCount edges { node { code manufacturer { name } } } } }"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    with running_server(tmp_path_factory.mktemp("limits"), "--robots", "30") as base:
        yield base + "/graphql"


def post(url: str, body: object, headers: dict | None = None) -> httpx.Response:
    headers = {"content-type": "application/json", "accept": "application/json", **(headers or {})}
    return httpx.post(url, content=json.dumps(body), headers=headers, timeout=30)


def codes(response: httpx.Response) -> set[str]:
    return {e.get("extensions", {}).get("code") for e in response.json()["errors"]}


def alias_bomb() -> dict:
    fields = " ".join(f"a{i}: code" for i in range(1500))
    return {"query": f"{{ robots(first: 1) {{ edges {{ node {{ {fields} }} }} }} }}"}


def depth_query(depth: int) -> dict:
    """A document `depth` fields deep (the schema itself is shallow: no type leads back up)."""
    selection = "code"
    for _ in range(depth):
        selection = f"node {{ {selection} }}"
    return {"query": f"{{ robots(first: 1) {{ edges {{ {selection} }} }} }}"}


@pytest.mark.parametrize("depth", [20, 5000])
def test_depth_bomb_is_refused_with_max_depth(server, depth):
    response = post(server, depth_query(depth))
    assert response.status_code == 400
    assert "MAX_DEPTH_LIMIT" in codes(response)
    assert "data" not in response.json()


def test_introspection_bombs_are_refused_but_introspection_is_not(server):
    nested = "name"
    for _ in range(4):
        nested = f"fields {{ type {{ {nested} }} }}"
    deep = {"query": f"{{ __schema {{ types {{ {nested} }} }} }}"}
    response = post(server, deep, headers={"accept": "application/graphql-response+json"})
    assert response.status_code == 400
    assert "introspection depth" in response.json()["errors"][0]["message"]
    wide = " ".join(f"t{i}: types {{ fields {{ args {{ name }} }} }}" for i in range(25))
    response = post(server, {"query": f"{{ __schema {{ {wide} }} }}"})
    assert response.status_code == 400
    assert codes(response) == {"COST_LIMIT"}
    full = post(server, {"query": get_introspection_query(descriptions=True)})
    assert full.status_code == 200
    assert full.json()["data"]["__schema"]["queryType"]["name"] == "Query"


def test_alias_bomb_is_refused_with_max_aliases(server):
    response = post(server, alias_bomb())
    assert response.status_code == 400
    assert codes(response) == {"MAX_ALIASES_LIMIT"}


def test_too_many_tokens_is_refused_before_parsing_the_rest(server):
    query = "{ " + "__typename " * 6000 + "}"
    response = post(server, {"query": query})
    assert response.status_code == 400
    assert codes(response) == {"MAX_TOKENS_LIMIT"}


def test_root_fields_are_counted_through_fragments(server):
    spread = " ".join(f"f{i}: __typename" for i in range(15))
    query = (
        f"{{ ...A ...A2 }} fragment A on Query {{ {spread} }} fragment A2 on Query {{ {spread} }}"
    )
    response = post(server, {"query": query})
    assert response.status_code == 400
    assert codes(response) == {"MAX_ROOT_FIELDS_LIMIT"}


@pytest.mark.parametrize(
    "query",
    [
        "{ robots(first: 1000000) { totalCount } }",
        "{ robots { edges { node { history(first: 101) { pageInfo { hasNextPage } } } } } }",
        "{ robots(first: -1) { totalCount } }",
        "{ robots(first: 1) { edges { node { conditionHistory(last: 5000) { at } } } } }",
    ],
)
def test_oversized_pages_are_refused_before_execution(server, query):
    response = post(server, {"query": query})
    assert response.status_code == 400
    assert codes(response) == {"BAD_USER_INPUT"}
    assert "data" not in response.json()


def test_page_size_from_a_variable_is_checked_too(server):
    query = "query ($n: Int!) { robots(first: $n) { totalCount } }"
    assert post(server, {"query": query, "variables": {"n": 2}}).status_code == 200
    response = post(server, {"query": query, "variables": {"n": 1000000}})
    assert response.status_code == 400
    assert codes(response) == {"BAD_USER_INPUT"}


def test_cost_counts_pages_times_their_contents(server):
    history = "history(first: 100) { edges { node { sequence payload } } }"
    query = f"{{ robots(first: 100) {{ edges {{ node {{ code {history} }} }} }} }}"
    response = post(server, {"query": query})
    assert response.status_code == 400
    assert codes(response) == {"COST_LIMIT"}
    error = response.json()["errors"][0]
    assert error["extensions"]["cost"] > error["extensions"]["limit"] == Limits().max_cost
    small = query.replace("first: 100", "first: 5")
    assert post(server, {"query": small}).status_code == 200


def test_a_10_mb_body_is_refused_with_413(server):
    body = b'{"query": "{ __typename }", "pad": "' + b"x" * 10_000_000 + b'"}'
    response = httpx.post(server, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert codes(response) == {"PAYLOAD_TOO_LARGE"}


def test_a_chunked_body_is_cut_off_at_the_cap(server):
    def chunks():
        yield b'{"query": "{ __typename }", "pad": "'
        for _ in range(200):
            yield b"x" * 65536
        yield b'"}'

    response = httpx.post(server, content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert codes(response) == {"PAYLOAD_TOO_LARGE"}


def test_a_1000_operation_batch_is_refused(server):
    response = post(server, [{"query": NORMAL}] * 1000)
    assert response.status_code == 400
    assert codes(response) == {"BATCHING_NOT_SUPPORTED"}


def test_operation_timeout(tmp_path):
    with running_server(tmp_path, "--robots", "30", "--timeout", "0.000001") as base:
        query = "{ robots(first: 20) { edges { node { code integrity { verified } } } } }"
        response = post(base + "/graphql", {"query": query})
    assert response.status_code == 504
    assert codes(response) == {"OPERATION_TIMEOUT"}


def test_limits_come_from_options_and_environment(tmp_path):
    args = ["--robots", "30", "--max-depth", "2", "--max-cost", "50"]
    with running_server(tmp_path, *args, env={"ROBOPASS_MAX_ALIASES": "1"}) as base:
        url = base + "/graphql"
        assert post(url, {"query": "{ robots(first: 1) { totalCount } }"}).status_code == 200
        deep = post(url, {"query": "{ robots(first: 1) { edges { node { code } } } }"})
        assert codes(deep) == {"MAX_DEPTH_LIMIT"}
        aliased = post(url, {"query": "{ a: __typename b: __typename }"})
        assert codes(aliased) == {"MAX_ALIASES_LIMIT"}
        costly = post(url, {"query": "{ robots(first: 100) { edges { cursor } } }"})
        assert codes(costly) == {"COST_LIMIT"}


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--max-depth", "0"], {}, "limits.max_depth: must be >= 1"),
        (["--timeout", "soon"], {}, "invalid float value: 'soon'"),
        ([], {"ROBOPASS_MAX_BODY_BYTES": "12"}, "limits.max_body_bytes: must be >= 1024"),
    ],
)
def test_bad_limits_stop_the_server_at_start(tmp_path, args, env, message):
    with pytest.raises(RuntimeError, match=message), running_server(tmp_path, *args, env=env):
        pass


def raw_chunked_upload(url: str, megabytes: int) -> bytes:
    """Streams a body with no Content-Length; returns the status line the server sent."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"x" * (1 << 20)
        try:
            for _ in range(megabytes):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass
        return sock.recv(64).split(b"\r\n", 1)[0]


ATTACKS: dict[str, tuple[Callable[[str], httpx.Response], set[str], int]] = {
    "alias bomb": (lambda url: post(url, alias_bomb()), {"MAX_ALIASES_LIMIT"}, 400),
    "depth bomb": (lambda url: post(url, depth_query(500)), {"MAX_DEPTH_LIMIT"}, 400),
    "10 MB body": (
        lambda url: httpx.post(
            url,
            content=b"[" + b" " * 10_000_000 + b"]",
            headers={"content-type": "application/json"},
            timeout=30,
        ),
        {"PAYLOAD_TOO_LARGE"},
        413,
    ),
    "1,000-operation batch": (
        lambda url: post(url, [{"query": NORMAL}] * 1000),
        {"BATCHING_NOT_SUPPORTED"},
        400,
    ),
    "first: 1000000": (
        lambda url: post(url, {"query": "{ robots(first: 1000000) { totalCount } }"}),
        {"BAD_USER_INPUT"},
        400,
    ),
}


def test_attacks_are_refused_while_normal_traffic_is_served(server):
    """Attackers and normal clients at once: every attack refused, every normal query answered."""
    expected = post(server, {"query": NORMAL}).json()
    assert "errors" not in expected
    stop = threading.Event()
    normal: list[object] = []
    refused: list[tuple[str, int, set[str]]] = []

    def client() -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                response = http.post(server, json={"query": NORMAL})
                normal.append(response.json() if response.status_code == 200 else response)

    def attacker(name: str) -> None:
        send, _, _ = ATTACKS[name]
        for _ in range(3):
            response = send(server)
            refused.append((name, response.status_code, codes(response)))

    clients = [threading.Thread(target=client) for _ in range(3)]
    attackers = [threading.Thread(target=attacker, args=(name,)) for name in ATTACKS]
    for thread in clients + attackers:
        thread.start()
    for thread in attackers:
        thread.join()
    stop.set()
    for thread in clients:
        thread.join()

    assert len(refused) == 3 * len(ATTACKS)
    for name, status, found in refused:
        _, want, want_status = ATTACKS[name]
        assert (status, want <= found) == (want_status, True), name
    assert normal, "normal clients were not served during the attack"
    assert all(body == expected for body in normal)
    assert raw_chunked_upload(server, 8).startswith(b"HTTP/1.1 413")
    assert post(server, {"query": NORMAL}).json() == expected
