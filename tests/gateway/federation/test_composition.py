"""Apollo's composition and The Guild's both accept a CN and an EU node as one supergraph.

The SDLs are fetched the way a composer fetches them: `_service { sdl }` over
HTTP from real `robopass registry serve` processes, with a service token from a
real `robopass auth-server`; `tests/composition/compose.mjs` runs the pinned
`@apollo/composition` or `@theguild/federation-composition` on them. The SDL's
`@link` names federation v2.9, the newest both accept (The Guild's refuses v2.11).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from graphql import parse

from tests.support.node_process import node_args, running_robopass, service_token
from tests.support.paths import TESTS
from tests.support.processes import node_tool

pytestmark = pytest.mark.process

FOLDER = TESTS / "composition"


COMPOSERS = {"apollo": "@apollo/composition", "guild": "@theguild/federation-composition"}


def compose(subgraphs: list[dict], composer: str) -> dict:
    node = node_tool(FOLDER, COMPOSERS[composer])
    run = subprocess.run(
        [node, str(FOLDER / "compose.mjs"), composer],
        input=json.dumps(subgraphs),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def sdls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`_service { sdl }` of a real CN node and a real EU node, with a service token."""
    folder = tmp_path_factory.mktemp("nodes")
    with ExitStack() as stack:
        issuer, _ = stack.enter_context(running_robopass("auth-server", "--data-dir", str(folder)))
        headers = {"authorization": f"Bearer {service_token(issuer)}"}
        found = {}
        for name, fmt in (("cn_heis", "cn-miit"), ("eu_dpp", "aas")):
            args = node_args(issuer, folder / name, "--format", fmt, "--robots", "3")
            base, _ = stack.enter_context(running_robopass(*args))
            answer = httpx.post(
                f"{base}/graphql", json={"query": "{ _service { sdl } }"}, headers=headers
            )
            assert answer.status_code == 200, answer.text
            found[name] = answer.json()["data"]["_service"]["sdl"]
        yield found


def subgraphs(sdls: dict[str, str]) -> list[dict]:
    return [
        {"name": name, "url": f"http://127.0.0.1:{8101 + i}/graphql", "sdl": sdl}
        for i, (name, sdl) in enumerate(sdls.items())
    ]


@pytest.mark.parametrize("composer", sorted(COMPOSERS))
def test_cn_and_eu_nodes_compose_into_a_supergraph_with_the_robot_key(sdls, composer) -> None:
    assert 'federation/v2.9"' in sdls["cn_heis"]
    result = compose(subgraphs(sdls), composer)
    assert result["errors"] == []
    supergraph = parse(result["supergraphSdl"])
    robot = next(
        d for d in supergraph.definitions if getattr(d, "name", None) and d.name.value == "Robot"
    )
    joins = {}
    for directive in robot.directives:
        if directive.name.value == "join__type":
            args = {a.name.value: a.value.value for a in directive.arguments}
            joins[args["graph"]] = args.get("key")
    assert joins == {"CN_HEIS": "code", "EU_DPP": "code"}
    query = next(
        d for d in supergraph.definitions if getattr(d, "name", None) and d.name.value == "Query"
    )
    assert {f.name.value for f in query.fields} >= {"robot", "robots"}


@pytest.mark.parametrize("composer", sorted(COMPOSERS))
def test_composition_reports_a_value_type_only_one_node_may_resolve(sdls, composer) -> None:
    """The check can fail: without @shareable on one type, composition refuses."""
    broken = dict(sdls)
    broken["eu_dpp"] = sdls["eu_dpp"].replace("type Manufacturer @shareable", "type Manufacturer")
    assert broken["eu_dpp"] != sdls["eu_dpp"]
    result = compose(subgraphs(broken), composer)
    assert result["supergraphSdl"] is None
    codes = {e["code"] for e in result["errors"]}
    assert "INVALID_FIELD_SHARING" in codes
    assert any("Manufacturer" in e["message"] for e in result["errors"])


def test_the_guild_refuses_a_federation_version_newer_than_it_knows(sdls) -> None:
    """Why the SDL links v2.9: strawberry's default, v2.11, is refused."""
    newer = {k: v.replace("federation/v2.9", "federation/v2.11") for k, v in sdls.items()}
    result = compose(subgraphs(newer), "guild")
    assert result["supergraphSdl"] is None
    assert {e["code"] for e in result["errors"]} == {"UNKNOWN_FEDERATION_LINK_VERSION"}
