"""The AAS HTTP API (Part 2 V3.0 read profiles) in process: masks, paging, ids, audit.

A real app over a real registry (the 60-robot test fleet), real RS256 tokens from a
trusted issuer, a real audit log on SQLite. The official test engine runs against a real
`robopass serve` process in tests/gateway/aasapi/test_engine.py.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import orjson
import pytest

from adapters import aas
from adapters.mapping import values_at
from gateway.service.export import export_document
from gateway.store import SqliteStore
from policies import AuditLog, PolicySet
from policies.mask import mask_for
from schema.codec import to_plain
from schema.passport import DataClass
from tests.support.audited import BUYER, Gateway, busy_robot, token
from tests.support.samples import _texts

API = "/aas/api/v3.0"


def b64(identifier: str) -> str:
    return base64.urlsafe_b64encode(identifier.encode()).decode().rstrip("=")


@pytest.fixture
def log(tmp_path) -> Iterator[AuditLog]:
    audit = AuditLog(str(tmp_path / "audit.db"))
    yield audit
    audit.close()


@pytest.fixture
def gateway(store: SqliteStore, log: AuditLog) -> Gateway:
    return Gateway(store, log)


def get(gateway: Gateway, path: str, bearer: str | None = None, status: int = 200):
    response = gateway.get(API + path, bearer)
    assert response.status_code == status, (path, response.text)
    return response.json()


def owner_of(store: SqliteStore, code: str) -> str:
    owner = store.record(code).passport.current_owner
    return token(role="owner", org=owner.owner, org_id=owner.owner_id, purposes="fleet_management")


# ---- policy ---------------------------------------------------------------------------


def test_anonymous_sees_only_submodels_of_public_fields(store, gateway):
    code, _ = busy_robot(store)
    shell = get(gateway, f"/shells/{b64(aas.shell_id(code))}")
    names = {ref["keys"][0]["value"].split(":")[3] for ref in shell["submodels"]}
    assert names <= {
        "Nameplate",
        "Registration",
        "TechnicalData",
        "SoftwareNameplate",
        "Ownership",
        "Compliance",
    }
    assert "Nameplate" in names
    for hidden in ("Maintenance", "Incidents", "TimeSeries", "Deployments"):
        error = get(gateway, f"/submodels/{b64(aas.submodel_id(hidden, code))}", status=404)
        assert error["messages"][0]["messageType"] == "Error"
    ownership = get(gateway, f"/submodels/{b64(aas.submodel_id('Ownership', code))}/$value")
    assert ownership["Owners"] and all("Owner" not in o for o in ownership["Owners"])


def test_the_owner_sees_more_than_the_public(store, gateway):
    code, owner = busy_robot(store)
    bearer = owner_of(store, code)
    shell = get(gateway, f"/shells/{b64(aas.shell_id(code))}", bearer)
    names = {ref["keys"][0]["value"].split(":")[3] for ref in shell["submodels"]}
    assert {"Maintenance", "Incidents", "TimeSeries", "Ownership"} <= names
    owners = get(gateway, f"/submodels/{b64(aas.submodel_id('Ownership', code))}/$value", bearer)
    assert owner in [o.get("Owner") for o in owners["Owners"]]


def _withheld(store: SqliteStore, code: str, classes: frozenset[DataClass]) -> set[bytes]:
    """Texts of the robot's values the mask withholds that the caller's view does not hold."""
    passport = store.record(code).passport
    plain = to_plain(passport)
    mask = mask_for(classes)
    visible = orjson.dumps(export_document(passport, "canonical", mask))
    needles = {t for path in mask.denied for v in values_at(plain, path) for t in _texts(v)}
    return {n for n in needles if n not in visible}


def _crawl(gateway: Gateway, code: str, bearer: str | None) -> list[bytes]:
    """Every read of one robot's shell, submodels and elements the API offers, as bytes."""
    bodies = []

    def fetch(path: str) -> dict:
        response = gateway.get(API + path, bearer)
        bodies.append(response.content)
        return response.json()

    shell_path = f"/shells/{b64(aas.shell_id(code))}"
    for suffix in ("", "/$reference", "/asset-information", "/submodel-refs"):
        fetch(shell_path + suffix)
    for name in aas.SUBMODEL_NAMES:
        sm = b64(aas.submodel_id(name, code))
        for prefix in (f"/submodels/{sm}", f"{shell_path}/submodels/{sm}"):
            for suffix in ("", "/$metadata", "/$value", "/$path", "?level=core"):
                fetch(prefix + suffix)
            elements = fetch(prefix + "/submodel-elements")
            for suffix in ("/$value", "/$path", "/$metadata", "/$reference"):
                fetch(prefix + "/submodel-elements" + suffix)
            paths = fetch(prefix + "/$path")
            paths = paths if isinstance(paths, list) else []
            for path in paths[:: max(1, len(paths) // 20)]:  # a spread sample
                fetch(f"{prefix}/submodel-elements/{path}")
                fetch(f"{prefix}/submodel-elements/{path}/$value")
            assert "messages" in elements or elements["result"] is not None
    fetch(f"/serialization?aasIds={b64(aas.shell_id(code))}")
    return bodies


@pytest.mark.parametrize(
    ("who", "classes"),
    [
        ("anonymous", frozenset({DataClass.PUBLIC})),
        (
            "buyer",
            frozenset(
                {DataClass.PUBLIC, DataClass.MAINTENANCE, DataClass.INCIDENT, DataClass.TELEMETRY}
            ),
        ),
    ],
)
def test_no_withheld_value_anywhere_in_the_bytes(store, gateway, who, classes):
    code, _ = busy_robot(store)
    bearer = token(**BUYER) if who == "buyer" else None
    needles = _withheld(store, code, classes)
    assert needles, "the robot must hold values this caller may not see"
    bodies = _crawl(gateway, code, bearer)
    leaks = {n for n in needles for body in bodies if n in body}
    assert leaks == set()
    everything = b"".join(bodies)
    assert code.encode() in everything  # the crawl did read the robot


def test_a_past_owner_reads_only_the_maintenance_of_what_it_sold(store, gateway):
    """Who a party is to a robot is decided now: the seller is a past owner, not the owner."""
    code, seller = next(
        (c, p.ownership[0])
        for c in store.codes()
        if len((p := store.record(c).passport).ownership) > 1 and p.maintenance
    )
    assert store.record(code).passport.current_owner.owner_id != seller.owner_id
    needles = _withheld(store, code, frozenset({DataClass.PUBLIC, DataClass.MAINTENANCE}))
    assert needles, "the robot must hold values a past owner may not see"
    bearer = token(
        role="owner", org=seller.owner, org_id=seller.owner_id, purposes="fleet_management"
    )
    bodies = _crawl(gateway, code, bearer)
    assert {n for n in needles for body in bodies if n in body} == set()
    maintenance = b64(aas.submodel_id("Maintenance", code))
    assert get(gateway, f"/submodels/{maintenance}/$value", bearer), "what it paid for"


def test_a_caller_who_may_not_see_the_code_finds_no_shell(store, log):
    rules = {
        "registries": {
            "*": [{"id": "m", "description": "maintenance only", "classes": ["MAINTENANCE"]}]
        }
    }
    gateway = Gateway(store, log, PolicySet.load(rules))
    code, _ = busy_robot(store)
    assert get(gateway, "/shells")["result"] == []
    assert get(gateway, "/submodels")["result"] == []
    get(gateway, f"/shells/{b64(aas.shell_id(code))}", status=404)
    get(gateway, f"/submodels/{b64(aas.submodel_id('Maintenance', code))}", status=404)
    assert log.head()[0] == 0, "nothing was disclosed, nothing recorded"


# ---- paging ---------------------------------------------------------------------------


def _all_pages(gateway: Gateway, path: str, limit: int, bearer: str | None = None) -> list:
    items, cursor, pages = [], None, 0
    while True:
        sep = "&" if "?" in path else "?"
        query = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = get(gateway, query, bearer)
        assert len(page["result"]) <= limit
        items += page["result"]
        pages += 1
        cursor = page["paging_metadata"].get("cursor")
        if cursor is None:
            return items
        assert pages < 1000


def test_shells_page_through_the_whole_fleet_without_repeats(store, gateway):
    ids = [s["id"] for s in _all_pages(gateway, "/shells", 7)]
    assert len(ids) == len(set(ids))
    assert ids == [aas.shell_id(c) for c in list(store.codes())]
    refs = _all_pages(gateway, "/shells/$reference", 11)
    assert [r["keys"][0]["value"] for r in refs] == ids


def test_submodels_page_through_the_whole_fleet_without_repeats(store, gateway):
    expected = [
        ref["keys"][0]["value"]
        for shell in _all_pages(gateway, "/shells", 50)
        for ref in shell["submodels"]
    ]
    for limit in (1, 4, 9):
        ids = [s["id"] for s in _all_pages(gateway, "/submodels", limit)]
        assert ids == expected, limit
    capped = get(gateway, "/submodels?limit=5000")
    assert len(capped["result"]) == 100 and capped["paging_metadata"]["cursor"]
    nameplates = _all_pages(gateway, "/submodels?idShort=Nameplate", 13)
    assert [s["idShort"] for s in nameplates] == ["Nameplate"] * len(list(store.codes()))
    semantic = b64(aas.NAMEPLATE)
    assert len(_all_pages(gateway, f"/submodels?semanticId={semantic}", 40)) == len(nameplates)


def test_refs_and_elements_page_without_repeats(store, gateway):
    code, _ = busy_robot(store)
    shell = f"/shells/{b64(aas.shell_id(code))}"
    refs = _all_pages(gateway, f"{shell}/submodel-refs", 2)
    assert refs == get(gateway, shell)["submodels"]
    sm = f"/submodels/{b64(aas.submodel_id('Nameplate', code))}"
    elements = _all_pages(gateway, f"{sm}/submodel-elements", 3)
    assert elements == get(gateway, sm)["submodelElements"]


def test_filters_on_shells(store, gateway):
    code = list(store.codes())[5]
    asset = b64(orjson.dumps({"name": "globalAssetId", "value": aas.asset_id(code)}).decode())
    found = get(gateway, f"/shells?assetIds={asset}")["result"]
    assert [s["id"] for s in found] == [aas.shell_id(code)]
    other = b64(orjson.dumps({"name": "serialNumber", "value": "x"}).decode())
    assert get(gateway, f"/shells?assetIds={other}")["result"] == []
    assert get(gateway, "/shells?idShort=Nope")["result"] == []
    assert len(get(gateway, "/shells?idShort=RobotPassport&limit=3")["result"]) == 3


# ---- content modifiers ----------------------------------------------------------------


def test_paths_levels_values_and_references(store, gateway):
    code, _ = busy_robot(store)
    bearer = owner_of(store, code)
    sm_id = aas.submodel_id("TechnicalData", code)
    sm = f"/submodels/{b64(sm_id)}"
    paths = get(gateway, f"{sm}/$path", bearer)
    assert "TechnicalProperties.Battery.Chemistry" in paths
    assert "TechnicalProperties.Sensors[0].Kind" in paths
    assert get(gateway, f"{sm}/$path?level=core", bearer) == [
        "GeneralInformation",
        "TechnicalProperties",
    ]
    core = get(gateway, f"{sm}?level=core", bearer)
    assert all("value" not in element for element in core["submodelElements"])
    kind = get(gateway, f"{sm}/submodel-elements/TechnicalProperties.Sensors[0].Kind", bearer)
    assert kind["idShort"] == "Kind" and kind["value"]
    ref = get(gateway, f"{sm}/submodel-elements/TechnicalProperties.Sensors[0]/$reference", bearer)
    assert ref["keys"] == [
        {"type": "Submodel", "value": sm_id},
        {"type": "SubmodelElementCollection", "value": "TechnicalProperties"},
        {"type": "SubmodelElementList", "value": "Sensors"},
        {"type": "SubmodelElementCollection", "value": "0"},
    ]
    values = get(gateway, f"{sm}/$value", bearer)
    assert isinstance(values["TechnicalProperties"]["DegreesOfFreedom"], int)
    assert isinstance(values["TechnicalProperties"]["Sensors"], list)
    meta = get(gateway, f"{sm}/$metadata", bearer)
    assert "submodelElements" not in meta and meta["id"] == sm_id
    prop = get(gateway, f"{sm}/submodel-elements/TechnicalProperties.MassKg/$metadata", bearer)
    assert "value" not in prop and prop["valueType"] == "xs:double"
    get(gateway, f"{sm}/submodel-elements/TechnicalProperties.MassKg/$path", bearer, 400)
    sensors = get(gateway, f"{sm}/submodel-elements/TechnicalProperties.Sensors/$value", bearer)
    assert isinstance(sensors["Sensors"], list) and "Kind" in sensors["Sensors"][0]
    shallow = get(gateway, f"{sm}/submodel-elements/TechnicalProperties?level=core", bearer)
    assert all("value" not in e for e in shallow["value"] if e["modelType"] != "Property")
    assert get(gateway, f"{sm}/submodel-elements/TechnicalProperties.Sensors/$path", bearer)[
        :2
    ] == ["TechnicalProperties.Sensors", "TechnicalProperties.Sensors[0]"]
    padded = base64.urlsafe_b64encode(sm_id.encode()).decode()
    assert padded.endswith("=")  # 59 bytes: padding is accepted, though not required
    assert get(gateway, f"/submodels/{padded}/$metadata", bearer)["id"] == sm_id
    assert get(gateway, "/description")["profiles"] == [
        "https://admin-shell.io/aas/API/3/0/AssetAdministrationShellRepositoryServiceSpecification/SSP-002",
        "https://admin-shell.io/aas/API/3/0/SubmodelRepositoryServiceSpecification/SSP-002",
    ]


# ---- bad input ------------------------------------------------------------------------


SUBMODELS_CURSOR = b64('submodels:["","x",0]')
"""A cursor of the submodel listing, given to the shell listing."""


def test_bad_requests_are_refused_with_a_result_naming_the_rule(store, gateway):
    code = next(iter(store.codes()))
    shell, sm = b64(aas.shell_id(code)), b64(aas.submodel_id("Nameplate", code))
    other_shell = b64(aas.shell_id(list(store.codes())[1]))
    cases = [
        ("/shells/not*base64", 400, "base64url"),
        (f"/shells/{b64('urn:someone:else')}", 404, "no shell"),
        (f"/shells/{b64('urn:robopass:aas:' + code.lower())}", 404, "no shell"),
        (f"/shells/{b64('urn:robopass:aas:' + code[:-1] + 'Z')}", 404, "no shell"),
        (f"/submodels/{b64('urn:robopass:sm:Nope:' + code)}", 404, "no submodel"),
        (f"/shells/{other_shell}/submodels/{sm}", 404, "has no submodel"),
        ("/shells?cursor=bm9wZQ", 400, "cursor"),
        (f"/shells?cursor={SUBMODELS_CURSOR}", 400, "cursor"),
        ("/submodels?cursor=c2hlbGxzOng", 400, "cursor"),
        ("/shells?limit=0", 400, "limit"),
        ("/shells?limit=ten", 400, "limit"),
        (f"/submodels/{sm}?level=shallow", 400, "level"),
        (f"/submodels/{sm}?extent=all", 400, "extent"),
        (f"/submodels/{sm}/submodel-elements/9bad", 400, "idShortPath"),
        (f"/submodels/{sm}/submodel-elements/Missing", 404, "no submodel element"),
        ("/shells?assetIds=e30", 400, "assetIds"),
        ("/serialization?includeConceptDescriptions=maybe", 400, "true or false"),
        (f"/shells/{shell}/asset-information/thumbnail", 404, "thumbnail"),
        ("/nothing/here", 404, "no operation"),
    ]
    for path, status, words in cases:
        response = gateway.get(API + path)
        assert response.status_code == status, (path, response.text)
        [message] = response.json()["messages"]
        assert words in message["text"], (path, message)
        assert message["code"] == str(status) and message["messageType"] == "Error"


def test_writes_are_not_allowed(store):
    import asyncio

    import httpx

    from gateway.service.local import LocalSource
    from gateway.service.services import Services
    from gateway.web.app import create_app

    app = create_app(Services(LocalSource(store), PolicySet.demo()))

    async def send() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return [
                await client.request(method, API + path, json={})
                for method, path in [
                    ("POST", "/shells"),
                    ("PUT", "/submodels/eA"),
                    ("DELETE", "/shells/eA"),
                ]
            ]

    for response in asyncio.run(send()):
        assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
        assert "read-only" in response.json()["messages"][0]["text"]


def test_a_bad_token_is_a_401_result(store, gateway):
    response = gateway.get(API + "/shells", "not.a.token")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["messages"][0]["code"] == "401"


# ---- audit ----------------------------------------------------------------------------


def test_a_submodel_read_is_audited_with_the_paths_of_that_submodel(store, gateway, log):
    code, _ = busy_robot(store)
    get(gateway, f"/submodels/{b64(aas.submodel_id('Ownership', code))}", token(**BUYER))
    [row] = log.trail(code)
    assert row.record.role == "buyer"
    assert "ownership.owner" in row.record.denied
    assert "ownership.jurisdiction" in row.record.served
    assert set(row.record.served) | set(row.record.denied) <= aas.submodel_paths("Ownership")


def test_a_shell_listing_records_each_robot_listed_and_no_other(store, gateway, log):
    codes = list(store.codes())
    get(gateway, "/shells?limit=3")
    for code in codes[:3]:
        [row] = log.trail(code)
        assert row.record.role == "public" and "identity.code" in row.record.served
    assert log.trail(codes[3]) == [], "the robot looked at to set the cursor was not served"


def test_a_refused_read_records_no_disclosure(store, gateway, log):
    code = next(iter(store.codes()))
    get(gateway, f"/submodels/{b64(aas.submodel_id('Maintenance', code))}", status=404)
    get(gateway, f"/shells/{b64(aas.shell_id(code))}/submodel-elements", status=404)
    rows = log.trail(code)
    assert all(row.record.served == () for row in rows)
