"""The leak oracle: principals, their masks, and every rendering of a value a principal
may not see, so that no response, feed or error can carry one unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import strategies as st

from policies import PUBLIC, PolicySet, Principal, Role, relationship_of
from policies.visibility import DEMO
from schema.codec import format_datetime, to_plain
from schema.events import DISCLOSES, Event, fold
from schema.fields import field_classes
from schema.graphql.query import build_schema
from schema.parties import manufacturer_id
from schema.passport import Passport

POLICY = PolicySet.demo()


SCHEMA = build_schema()


CLIENTS = orjson.loads((DEMO / "clients.json").read_bytes())["clients"]


PURPOSES = sorted(
    {p for c in CLIENTS for p in c["purposes"]} | {"incident_investigation", "customs_control"}
)


ALLOWED_ERRORS = {"UNAUTHORIZED_FIELD_OR_TYPE", "NOT_FOUND", "BAD_USER_INPUT"}


def moments(history: list[Event]) -> list[datetime]:
    """Times worth asking a robot `asOf`: inside and at the edges of every owner's and
    deployment's period, at the last event, before registration and far ahead."""
    passport = fold(history)
    found = {history[0].at - timedelta(days=1), history[-1].at, datetime(2099, 1, 1, tzinfo=UTC)}
    periods = [(o.start, o.end) for o in passport.ownership]
    periods += [(d.start, d.end) for d in passport.deployments]
    for start, end in periods:
        found.add(start)
        if end is not None:
            found |= {start + (end - start) / 2, end - timedelta(seconds=1), end}
    return sorted(found)


@dataclass(frozen=True)
class PastParty:
    """An organisation that owned or operated a robot once and no longer does."""

    code: str
    organisation: str
    organisation_id: str
    role: Role
    start: datetime
    end: datetime


def past_parties(passports: list[Passport]) -> list[PastParty]:
    found = []
    for p in passports:
        found += [
            PastParty(p.code, o.owner, o.owner_id, Role.OWNER, o.start, o.end)
            for o in p.ownership[:-1]
            if o.end is not None and o.owner_id is not None
        ]
        found += [
            PastParty(p.code, d.operator, d.operator_id, Role.OPERATOR, d.start, d.end)
            for d in p.deployments
            if d.end is not None and d.operator_id is not None
        ]
    return found


def party_principal(party: PastParty) -> st.SearchStrategy[Principal]:
    return st.builds(
        Principal,
        issuer=st.just("http://127.0.0.1/auth"),
        subject=st.just("past-party"),
        role=st.just(party.role),
        organisation=st.just(party.organisation),
        organisation_id=st.just(party.organisation_id),
        jurisdiction=st.sampled_from(["CN", "DE"]) | st.none(),
        purposes=st.frozensets(st.sampled_from(PURPOSES), max_size=2),
    )


def principals(passports: list[Passport]) -> st.SearchStrategy[Principal]:
    demo = [
        Principal(
            issuer="http://127.0.0.1/auth",
            subject=c["client_id"],
            role=Role(c["role"]),
            client_id=c["client_id"],
            organisation=c["organisation"],
            jurisdiction=c["jurisdiction"],
            purposes=frozenset(c["purposes"]),
            organisation_id=c.get("organisation_id"),
        )
        for c in CLIENTS
    ]
    # (name, identifier) of every party; a name may also come with no or another identifier
    parties = sorted(
        {(o.owner, o.owner_id) for p in passports for o in p.ownership}
        | {(d.operator, d.operator_id) for p in passports for d in p.deployments}
        | {(p.manufacturer.name, manufacturer_id(p.manufacturer)) for p in passports}
        | {("Bundeskriminalamt", None)},
        key=repr,
    )
    names = [name for name, _ in parties]
    ids = [None, *sorted({i for _, i in parties if i is not None})]
    party = st.sampled_from(parties) | st.tuples(st.sampled_from(names), st.sampled_from(ids))
    made_up = st.builds(
        lambda party, **fields: Principal(
            organisation=party[0], organisation_id=party[1], **fields
        ),
        party=st.just((None, None)) | party,
        issuer=st.just("http://127.0.0.1/auth"),
        subject=st.just("random"),
        role=st.sampled_from(list(Role)),
        jurisdiction=st.sampled_from(["CN", "DE", "FR", "US", "CH"]) | st.none(),
        purposes=st.frozensets(st.sampled_from(PURPOSES), max_size=3),
    )
    past = st.sampled_from(past_parties(passports)).flatmap(party_principal)
    return st.sampled_from([PUBLIC, *demo]) | made_up | past


def renderings(value: object) -> set[str]:
    """How a text value can appear in a response: as is and, for times, in Beijing time."""
    if not isinstance(value, str):
        return set()
    out = {orjson.dumps(value).decode()[1:-1]}
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return out
    if at.tzinfo is not None:
        out.add((at + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S"))
    return out


def leaves(node: object, prefix: str = ""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for item in node:
            yield from leaves(item, prefix)
    else:
        yield prefix[:-1], node


def touched(event: Event) -> frozenset[str]:
    """Every canonical path under the subtrees the event's type discloses."""
    prefixes = DISCLOSES[event.type]
    return frozenset(
        p for p in field_classes() if any(p == x or p.startswith(x + ".") for x in prefixes)
    )


def event_texts(event: Event) -> set[str]:
    texts = renderings(format_datetime(event.at)) | renderings(event.at.isoformat())
    for _, value in leaves(event.payload):
        texts |= renderings(value)
    return texts


class Oracle:
    """The texts a principal must never receive, from the fleet's passports and logs.

    A history event shows its time and payload only when every path its type
    touches is visible; the texts of such events count as seen, since a visible
    software update may share its minute with a hidden maintenance visit. A
    denied text that stands inside a longer visible one ("Firmware 1.3.0 ->
    1.3.1 over the air." in a visible note that goes on) is not evidence.
    """

    def __init__(self, passports: list[Passport], histories: list[list[Event]]) -> None:
        self.passports = passports
        self.texts: list[dict[str, set[str]]] = []
        self.events: list[list[tuple[frozenset[str], set[str]]]] = []
        for passport, history in zip(passports, histories, strict=True):
            by_path: dict[str, set[str]] = {}
            past = (fold([e for e in history if e.at <= t]) for t in moments(history))
            for state in (passport, *(p for p in past if p is not None)):
                for path, value in leaves(to_plain(state)):
                    by_path.setdefault(path, set()).update(renderings(value))
            self.texts.append(by_path)
            self.events.append([(touched(e), event_texts(e)) for e in history])
        self.vocabulary = SCHEMA.as_str().casefold()
        self._cache: dict[tuple[str, ...], frozenset[str]] = {}

    def forbidden(self, principal: Principal) -> frozenset[str]:
        """Texts at denied paths of any robot, minus any text this principal may see anywhere.

        Each robot's mask comes from its present passport: `asOf` never changes it.
        """
        masks = [
            POLICY.decide(principal, relationship_of(principal, p), p.code[:2]).mask
            for p in self.passports
        ]
        key = tuple(m.key for m in masks)
        if key not in self._cache:
            denied: set[str] = set()
            seen: set[str] = set()
            for mask, by_path, events in zip(masks, self.texts, self.events, strict=True):
                for path, texts in by_path.items():
                    (seen if path in mask else denied).update(texts)
                for paths, texts in events:
                    if all(p in mask for p in paths):
                        seen.update(texts)
            visible = "\x00".join(seen)  # a denied text inside a longer visible one is no leak
            self._cache[key] = frozenset(
                v
                for v in denied - seen
                if len(v) >= 6 and v.casefold() not in self.vocabulary and v not in visible
            )
        return self._cache[key]
