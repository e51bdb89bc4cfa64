"""Apollo's composition accepts a Chinese and an EU registry node as one supergraph.

The SDLs are fetched the way a composer fetches them, with `_service { sdl }`
over HTTP from each node's subgraph; `tests/composition/compose.mjs` runs the
pinned `@apollo/composition` on them.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import httpx
import pytest
from graphql import parse

from gateway.local import LocalSource
from gateway.store import RegistryStore
from gateway.subgraph import create_subgraph_app
from gateway.synthetic import synthetic_fleet
from tests.conftest import node_tool

FOLDER = Path(__file__).parent / "composition"


def compose(subgraphs: list[dict]) -> dict:
    node = node_tool(FOLDER, "@apollo/composition")
    run = subprocess.run(
        [node, str(FOLDER / "compose.mjs")],
        input=json.dumps(subgraphs),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


async def fetch_sdl(store: RegistryStore) -> str:
    transport = httpx.ASGITransport(app=create_subgraph_app(LocalSource(store)))
    async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
        response = await client.post("/graphql", json={"query": "{ _service { sdl } }"})
    return response.json()["data"]["_service"]["sdl"]


@pytest.fixture(scope="module")
def sdls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The SDL of a CN node and of an EU node holding German robots."""
    folder = tmp_path_factory.mktemp("nodes")
    found = {}
    for name, country, registry in (("cn_heis", "CN", "cn-heis"), ("eu_aas", "DE", "eu-aas")):
        store = RegistryStore(folder / f"{name}.db", registry=registry)
        store.import_histories(synthetic_fleet(3, seed=1, country=country, registry=registry))
        found[name] = asyncio.run(fetch_sdl(store))
        store.close()
    return found


def subgraphs(sdls: dict[str, str]) -> list[dict]:
    return [
        {"name": name, "url": f"http://127.0.0.1:{8101 + i}/graphql", "sdl": sdl}
        for i, (name, sdl) in enumerate(sdls.items())
    ]


def test_cn_and_eu_nodes_compose_into_a_supergraph_with_the_robot_key(sdls) -> None:
    result = compose(subgraphs(sdls))
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
    assert joins == {"CN_HEIS": "code", "EU_AAS": "code"}
    query = next(
        d for d in supergraph.definitions if getattr(d, "name", None) and d.name.value == "Query"
    )
    assert {f.name.value for f in query.fields} >= {"robot", "robots"}


def test_composition_reports_a_value_type_only_one_node_may_resolve(sdls) -> None:
    """The check can fail: without @shareable on one type, composition refuses."""
    broken = dict(sdls)
    broken["eu_aas"] = sdls["eu_aas"].replace("type Manufacturer @shareable", "type Manufacturer")
    assert broken["eu_aas"] != sdls["eu_aas"]
    result = compose(subgraphs(broken))
    assert result["supergraphSdl"] is None
    codes = {e["code"] for e in result["errors"]}
    assert "INVALID_FIELD_SHARING" in codes
    assert any("Manufacturer" in e["message"] for e in result["errors"])
