"""Identities, not names: relationships by party identifier only (issue 22, item 5).

A look-alike organisation claim (other case, non-breaking or other Unicode
spaces, a trailing space, the very same display name with another identifier)
never gains a relationship: not the owner's view, not a transfer's acceptance,
not the owner filter. The real owner's identifier does. Real signed tokens and
the real app over a real store where a request is involved.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.store import SqliteStore
from gateway.store.identify import MapError, identify, load_map, plan
from gateway.synthetic.catalogue import organisation_id
from gateway.synthetic.fleet import synthetic_fleet
from policies import InvalidClaims, Principal, Relationship, Role, may_accept_transfer
from policies.authserver import load_clients
from policies.visibility import is_own, relationship_of
from schema.codec import to_plain
from schema.events import EventType, chain, fold
from schema.parties import is_party_id, manufacturer_id, same_party
from schema.source import RobotFilter
from tests.support.cli_process import ROOT
from tests.support.tokens import claims, run, sign, verifier
from tests.support.writing import Gateway, active, pick, soon, token

SPACES = sorted(
    {chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Zs"}
    | {"\t", "\u200b", "\u2060", "\ufeff", "\u180e"}
)
"""Every Unicode space separator, tab and the zero-width look-alikes."""


def look_alikes(value: str) -> st.SearchStrategy[str]:
    """`value` changed the ways a claim could imitate it: case, spaces, a trailing space."""
    spaced = st.tuples(st.integers(0, len(value)), st.sampled_from(SPACES)).map(
        lambda t: value[: t[0]] + t[1] + value[t[0] :]
    )
    swapped = st.sampled_from(SPACES).map(lambda s: value.replace(" ", s).replace(":", s + ":"))
    cased = st.sampled_from([value.upper(), value.lower(), value.swapcase(), value.title()])
    trailing = st.sampled_from([value + " ", " " + value, value + "\u00a0", value + "\n"])
    return (spaced | swapped | cased | trailing).filter(lambda v: v != value)


@pytest.fixture(scope="module")
def fleet() -> list:
    return list(synthetic_fleet(30, seed=5))


def owner(**fields) -> Principal:
    return Principal("https://as.example", "s", fields.pop("role", Role.OWNER), **fields)


# -- the identifier itself -----------------------------------------------------------


def test_each_scheme_has_one_spelling():
    good = [
        "uscc:91110108MA01K7XD2T",
        "lei:5493001LRMUTUAL7K203",
        "reg:DE:HRB284617",
        "reg:FR:812453679",
        "person:" + "a2" * 12,
    ]
    assert all(is_party_id(v) for v in good)
    bad = [
        "uscc:91110108ma01k7xd2t",  # lower case
        "uscc:91110108MA01K7XD2X",  # wrong check character
        "lei:5493001LRMUTUAL7K204",  # wrong check digits
        "reg:de:HRB284617",
        "reg:DE:HRB 284617",
        "person:short",
        "Zhulong Sales & Leasing Co., Ltd.",
        "",
        None,
        42,
        "uscc:\uff19\uff11110108MA01K7XD2T",  # full-width digits
    ]
    assert not any(is_party_id(v) for v in bad)
    assert same_party("reg:DE:HRB1", "reg:DE:HRB1") and not same_party("x", "x")


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_no_look_alike_of_an_identifier_is_one(data):
    real = data.draw(
        st.sampled_from(["uscc:913205066HF31Y0124", "lei:5493001LRMUTUAL7K203", "reg:DE:HRB1"])
    )
    fake = data.draw(look_alikes(real))
    assert not (is_party_id(fake) and fake == real)
    assert not same_party(fake, real)


def test_every_synthetic_owner_and_operator_has_an_identifier(fleet):
    passports = [fold(h) for h in fleet]
    entries = [o.owner_id for p in passports for o in p.ownership]
    entries += [d.operator_id for p in passports for d in p.deployments]
    assert entries and all(is_party_id(i) for i in entries)
    people = [o for p in passports for o in p.ownership if o.owner_kind.value == "NATURAL_PERSON"]
    assert all(o.owner_id.startswith("person:") for o in people)
    assert not any(o.owner.lower().split()[0] in o.owner_id for o in people), "not from the name"
    lessor = "Zhulong Sales & Leasing Co., Ltd."
    assert load_clients()["fleet-owner"].organisation_id == organisation_id("CN", lessor)


# -- relationships ---------------------------------------------------------------------


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_look_alike_claim_never_relates_and_the_real_id_does(fleet, data):
    p = fold(data.draw(st.sampled_from(fleet)))
    current = p.current_owner
    real = owner(organisation=current.owner, organisation_id=current.owner_id)
    assert relationship_of(real, p) is Relationship.CURRENT_OWNER
    assert is_own(real, current.owner_id) and may_accept_transfer(real, current.owner_id)
    fake_id = data.draw(
        look_alikes(current.owner_id) | look_alikes(current.owner) | st.just(current.owner)
    )
    for fake in (
        owner(organisation=current.owner, organisation_id=None),  # the name alone
        owner(organisation=current.owner, organisation_id="reg:DE:HRB999999"),  # same name
        owner(organisation=data.draw(look_alikes(current.owner)), organisation_id=None),
        owner(organisation=current.owner, organisation_id=fake_id),
    ):
        assert relationship_of(fake, p) is Relationship.NONE
        assert not is_own(fake, current.owner_id), "owner filter"
        assert not may_accept_transfer(fake, current.owner_id), "transfer acceptance"


def test_manufacturer_and_operator_by_identifier(fleet):
    p = next(fold(h) for h in fleet if any(d.end is None for d in fold(h).deployments))
    maker = manufacturer_id(p.manufacturer)
    assert maker and maker.startswith("uscc:")
    as_maker = owner(role=Role.MANUFACTURER, organisation_id=maker)
    assert relationship_of(as_maker, p) is Relationship.MANUFACTURER
    by_raw = owner(role=Role.MANUFACTURER, organisation_id=p.manufacturer.registration_id)
    assert relationship_of(by_raw, p) is Relationship.NONE, "a bare registration id has no scheme"
    running = next(d for d in p.deployments if d.end is None)
    if running.operator_id != p.current_owner.owner_id:
        op = owner(role=Role.OPERATOR, organisation_id=running.operator_id)
        assert relationship_of(op, p) is Relationship.OPERATOR
        named = owner(role=Role.OPERATOR, organisation=running.operator)
        assert relationship_of(named, p) is Relationship.NONE


# -- tokens -------------------------------------------------------------------------------


def test_the_token_carries_the_identifier_and_a_bad_one_is_refused():
    p = run(verifier().verify(sign(claims(org_id="uscc:91110108MA01K7XD2T"))))
    assert p.organisation_id == "uscc:91110108MA01K7XD2T"
    assert "uscc:91110108MA01K7XD2T" not in repr(p)
    assert run(verifier().verify(sign(claims()))).organisation_id is None, "no claim: no id"
    for bad in (["uscc:91110108MA01K7XD2T"], 7, {"id": "x"}, "CAC", "uscc:91110108MA01K7XD2T "):
        with pytest.raises(InvalidClaims, match="org_id"):
            run(verifier().verify(sign(claims(org_id=bad))))


# -- over GraphQL: transfer acceptance and the owner filter -------------------------------

OFFER = """mutation ($code: RobotCode!, $input: TransferInput!, $key: String!) {
  initiateTransfer(code: $code, input: $input, idempotencyKey: $key) { sequence } }"""
ACCEPT = """mutation ($code: RobotCode!, $at: DateTime!, $key: String!) {
  acceptTransfer(code: $code, at: $at, idempotencyKey: $key) { sequence } }"""
BY_OWNER = """query ($id: String) { robots(first: 100, filter: {ownerId: $id}) { totalCount } }"""
ROBOT = """query ($code: RobotCode!) { robot(code: $code) { ownership { owner ownerId } } }"""


def test_a_look_alike_accepts_no_transfer_sees_no_owner_view_and_filters_nothing(store, tmp_path):
    gw = Gateway(store, None)
    p = pick(store, active)
    buyer_name, buyer_id = "Robots de Lyon SARL", "reg:FR:812453679"
    current = p.current_owner
    seller = token("owner", current.owner, org_id=current.owner_id)
    offer = {
        "at": soon(),
        "newOwner": buyer_name,
        "newOwnerId": buyer_id,
        "ownerKind": "ORGANISATION",
        "jurisdiction": "FR",
    }
    assert "errors" not in gw.ask(OFFER, {"code": p.code, "input": offer, "key": "o"}, seller)
    fakes = [
        token("owner", buyer_name),  # the name, no identifier
        token("owner", buyer_name.upper()),
        token("owner", buyer_name.replace(" ", "\u00a0")),
        token("owner", buyer_name, org_id="reg:FR:999999999"),  # same name, other id
        token("owner", buyer_name + " ", org_id="reg:FR:812453670"),
    ]
    for i, fake in enumerate(fakes):
        body = gw.ask(ACCEPT, {"code": p.code, "at": soon(1), "key": f"f{i}"}, fake)
        assert body["errors"][0]["extensions"]["rule"] == "transfer.no_offer"
        filtered = gw.ask(BY_OWNER, {"id": current.owner_id}, fake)
        assert filtered["data"] is None
        assert filtered["errors"][0]["extensions"]["code"] == "UNAUTHORIZED_FIELD_OR_TYPE"
        view = gw.ask(ROBOT, {"code": p.code}, fake)
        assert current.owner not in json.dumps(view) and current.owner_id not in json.dumps(view)
    mine = gw.ask(BY_OWNER, {"id": current.owner_id}, seller)["data"]["robots"]["totalCount"]
    assert mine >= 1
    real = token("owner", "any name at all", org_id=buyer_id)
    body = gw.ask(ACCEPT, {"code": p.code, "at": soon(1), "key": "real"}, real)
    assert "errors" not in body, body
    now = store.passport(p.code).current_owner
    assert (now.owner, now.owner_id) == (buyer_name, buyer_id), "the offered name is shown"
    onward = {**offer, "at": soon(2), "newOwnerId": "reg:DE:HRB1", "jurisdiction": "DE"}
    refused = gw.ask(OFFER, {"code": p.code, "input": onward, "key": "n"}, fakes[3])
    assert refused["errors"][0]["extensions"]["rule"] == "writes.table", "not the new owner"
    offered = gw.ask(OFFER, {"code": p.code, "input": onward, "key": "n"}, real)
    assert "errors" not in offered, "the new owner, by its identifier, may offer it onward"


# -- the migration of stored data -----------------------------------------------------------


def legacy(histories: list) -> list:
    """The histories as stored before identifiers: every id field removed from the payloads."""
    out = []
    for history in histories:
        events = []
        prev = "0" * 64
        for e in history:
            payload = json.loads(json.dumps(e.payload))
            for entry in payload.get("ownership", []) + payload.get("deployments", []):
                entry.pop("owner_id", None), entry.pop("operator_id", None)
            payload.pop("owner_id", None), payload.pop("operator_id", None)
            e = chain(e.code, e.sequence, e.at, e.type, payload, prev)
            prev = e.hash
            events.append(e)
        out.append(events)
    return out


def test_identify_records_ids_once_and_only_then_relates(tmp_path, fleet):
    store = SqliteStore(tmp_path / "legacy.db")
    store.import_histories(legacy(fleet[:12]))
    before = {c: store.passport(c) for c in store.codes()}
    p = next(iter(before.values()))
    assert p.current_owner.owner_id is None
    named = owner(organisation=p.current_owner.owner)
    assert relationship_of(named, p) is Relationship.NONE, "unidentified: no relationship"
    truth = {fold(h).code: fold(h) for h in fleet[:12]}
    names = {o.owner: o.owner_id for t in truth.values() for o in t.ownership}
    names |= {d.operator: d.operator_id for t in truth.values() for d in t.deployments}
    people = {o.owner for t in truth.values() for o in t.ownership if o.owner_id.startswith("p")}
    rows = [("name", "id", "code")]
    rows += [(n, i, "") for n, i in names.items() if n not in people and n != "Private household"]
    rows += [
        (o.owner, o.owner_id, code)
        for code, t in truth.items()
        for o in t.ownership
        if o.owner in people
    ]
    mapping = tmp_path / "parties.csv"
    mapping.write_text("\n".join(",".join(f'"{v}"' for v in row) for row in rows) + "\n")

    summary = identify(store, load_map(mapping))
    assert summary.identified_robots == 12 and summary.owners > 12
    for code, t in truth.items():
        now = store.passport(code)
        assert [o.owner_id for o in now.ownership] == [o.owner_id for o in t.ownership]
        households = [d.operator for d in now.deployments if d.operator_id is None]
        assert set(households) <= {"Private household"}
        assert store.verify_chain(code).verified
        last = store.events(code)[-1]
        assert last.type is EventType.PARTIES_IDENTIFIED
    real = owner(organisation_id=truth[p.code].current_owner.owner_id)
    assert relationship_of(real, store.passport(p.code)) is Relationship.CURRENT_OWNER
    heads = {c: store.head(c) for c in store.codes()}
    again = identify(store, load_map(mapping))
    assert again.identified_robots == 0, "idempotent"
    assert {c: store.head(c) for c in store.codes()} == heads
    assert plan(store.passport(p.code), load_map(mapping))[0] is None
    assert to_plain(store.passport(p.code))["ownership"] == to_plain(truth[p.code])["ownership"]
    store.close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,id\nAcme,Acme GmbH\n", "line 2: the id must be a party identifier"),
        ("who,id\nAcme,reg:DE:HRB1\n", "header must be name,id"),
        ("name,id\nAcme,reg:DE:HRB1\nAcme,reg:DE:HRB2\n", "line 3: this name already has"),
    ],
)
def test_a_bad_map_is_refused_naming_the_line(tmp_path, text, message):
    path = tmp_path / "map.csv"
    path.write_text(text)
    with pytest.raises(MapError, match=message):
        load_map(path)


@pytest.mark.process
def test_the_identify_command_summarises_and_refuses_a_bad_map(tmp_path, fleet):
    db = tmp_path / "legacy.db"
    store = SqliteStore(db)
    store.import_histories(legacy(fleet[:3]))
    store.close()
    good = tmp_path / "map.json"
    p = fold(fleet[0])
    good.write_text(json.dumps({p.current_owner.owner: p.current_owner.owner_id}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Acme": "acme"}))

    def cli(*args: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "gateway.cli", "registry", "identify", "--db", str(db)]
        return subprocess.run([*argv, *args], cwd=ROOT, capture_output=True, text=True)

    refused = cli("--map", str(bad))
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert (
        "must be a party identifier" in refused.stderr and "nothing was written" in refused.stderr
    )
    done = cli("--map", str(good))
    assert done.returncode == 0, done.stderr
    assert re.match(r"[1-3] of 3 robots identified \(([1-9][0-9]*) ownership", done.stdout)
    assert p.current_owner.owner not in done.stdout, "names stay out of the summary"
    assert cli("--map", str(good)).stdout.startswith("0 of 3 robots identified")
    missing = cli("--map", str(tmp_path / "none.csv"))
    assert missing.returncode != 0 and "cannot read the map" in missing.stderr


def test_the_owner_id_column_is_filled_and_filters(tmp_path, fleet):
    store = SqliteStore(tmp_path / "r.db")
    store.import_histories(fleet[:10])
    p = fold(fleet[0])
    found = store.page(RobotFilter(owner_id=p.current_owner.owner_id), 100).items
    assert p.code in [r.passport.code for r in found]
    assert all(r.passport.current_owner.owner_id == p.current_owner.owner_id for r in found)
    assert store.page(RobotFilter(owner_id=p.current_owner.owner), 100).items == []
    store.close()


def test_the_response_cache_keeps_callers_with_other_identifiers_apart():
    from gateway.endpoint.responses import ResponseCache, context_fields
    from schema.graphql.query import build_schema

    cache = ResponseCache(context_fields(build_schema([], suggestions=True)))
    query = '{ robot(code: "CNH7K2H0A1B32605281000012345A") { ownership { owner } } }'

    def key(org_id: str | None):
        caller = owner(organisation="Acme GmbH", organisation_id=org_id, jurisdiction="DE")
        return cache.key(query, {}, "application/json", False, caller)

    assert key("reg:DE:HRB1") is not None
    assert key("reg:DE:HRB1") == key("reg:DE:HRB1")
    assert key("reg:DE:HRB1") != key("reg:DE:HRB2") != key(None), "same name, other party"
