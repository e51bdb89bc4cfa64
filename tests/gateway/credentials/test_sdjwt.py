"""SD-JWT VC passports: issuance, presentation and every refusal, each with the rule it breaks.

Real ES256 keys (the registry's from a data directory, the holder's generated),
real status list tokens; nothing is mocked. The leak test follows the leak
oracle's method: every value the holder did not disclose is searched for in
everything the verifier returns, and must be absent.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import ECKey

from gateway.credentials.sdjwt import InvalidSDJWT, b64url, conceal, digest, reveal, split
from gateway.credentials.sdvc import (
    SD_TYP,
    VCT,
    StatusRef,
    claims_of,
    issue_sd_jwt,
    present,
    status_list_token,
)
from gateway.credentials.signing import RegistrySigner
from gateway.credentials.statuslist import SIZE, Ledger, decode_list, encode_list
from gateway.credentials.verification import InvalidCredential
from gateway.synthetic.fleet import synthetic_fleet
from schema.events import fold
from schema.passport import Passport
from tests.support.sdjwt import ISSUER, STATUS_URI, holder, signer, verify

URI = STATUS_URI
AUD = "https://buyer.test"
NONCE = "n-4f1c"

__all__ = ["holder", "signer"]


@pytest.fixture(scope="module")
def passport() -> Passport:
    histories = list(synthetic_fleet(12, seed=3))
    return max((fold(h) for h in histories), key=lambda p: len(p.incidents) + len(p.maintenance))


@pytest.fixture(scope="module")
def credential(passport, signer, holder) -> str:
    return issue_sd_jwt(passport, signer, holder.as_dict(private=False), StatusRef(URI, 41))


def check(signer, text, *, audience=AUD, nonce=NONCE, **kwargs):
    return verify(signer, text, audience=audience, nonce=nonce, **kwargs)


def refused(rule: str, signer, text, **kwargs) -> str:
    with pytest.raises(InvalidCredential) as caught:
        check(signer, text, **kwargs)
    assert caught.value.rule == rule, str(caught.value)
    return str(caught.value)


def segment(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def leaves(value, prefix=()):
    """Every (path, leaf value) of a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, (*prefix, i))
    else:
        yield prefix, value


# -- issuance ------------------------------------------------------------------


def test_the_issuer_signed_part_shows_no_claim_of_the_robot(credential, passport, signer):
    parts = split(credential)
    header, payload = segment(parts.jwt.split(".")[0]), segment(parts.jwt.split(".")[1])
    assert header == {"alg": "ES256", "typ": SD_TYP, "kid": signer.kid}
    assert payload["vct"] == VCT and payload["iss"] == ISSUER and payload["_sd_alg"] == "sha-256"
    assert payload["status"] == {"status_list": {"idx": 41, "uri": URI}}
    assert set(payload["cnf"]["jwk"]) == {"kty", "crv", "x", "y"}, "public part only"
    assert set(payload) == {"iss", "iat", "exp", "vct", "cnf", "status", "_sd_alg", "_sd"}
    signed = parts.jwt.split(".")[1]
    for _, value in leaves(claims_of(passport)):
        if isinstance(value, str) and len(value) > 3:
            assert value not in base64.urlsafe_b64decode(signed + "==").decode(), value


def test_every_leaf_is_its_own_disclosure_and_decoys_pad_every_level(credential, passport):
    parts = split(credential)
    payload = segment(parts.jwt.split(".")[1])
    claims, disclosures = reveal(payload, parts.disclosures)
    assert claims == {**payload_protected(payload), **claims_of(passport)}
    leaf_paths = {p for p, _ in leaves(claims_of(passport))}
    disclosed_paths = {d.path for d in disclosures}
    assert leaf_paths <= disclosed_paths, "every leaf can be disclosed on its own"
    top = payload["_sd"]
    assert len(top) > len(claims_of(passport)), "decoys hide how many claims there are"
    assert top == sorted(top)


def payload_protected(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k != "_sd"}


def test_conceal_then_reveal_round_trips_and_two_issuances_share_no_digest():
    claims = {"a": 1, "b": {"c": [1, {"d": "x"}], "e": None}, "f": []}
    first, d1 = conceal(claims)
    _, d2 = conceal(claims)
    assert reveal(first, [d.encoded for d in d1])[0] == claims
    assert not {d.digest for d in d1} & {d.digest for d in d2}, "fresh salts every time"
    assert reveal(first, [])[0] == {}


NAMES = st.text(min_size=1, max_size=4).filter(lambda k: k not in ("_sd", "..."))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(NAMES, JSON, max_size=4), st.randoms(use_true_random=False))
def test_any_claims_round_trip_and_a_subset_reveals_exactly_its_members(claims, rng):
    concealed, disclosures = conceal(claims)
    assert reveal(concealed, [d.encoded for d in disclosures])[0] == claims
    # a subset closed under ancestors, as a holder presents it
    chosen = [d for d in disclosures if rng.random() < 0.5]
    paths = {d.path for d in chosen}
    closed = [d for d in chosen if all(d.path[:i] in paths for i in range(1, len(d.path)))]
    shown, found = reveal(concealed, [d.encoded for d in closed])
    assert {d.encoded for d in found} == {d.encoded for d in closed}
    assert set(shown) == {d.name for d in closed if len(d.path) == 1}


def test_a_private_holder_key_is_refused_at_issuance(passport, signer, holder):
    with pytest.raises(ValueError, match="private part"):
        issue_sd_jwt(passport, signer, holder.as_dict(private=True), StatusRef(URI, 1))


# -- presentation and verification ----------------------------------------------


def test_a_presentation_shows_exactly_the_chosen_claims(credential, holder, signer, passport):
    text = present(credential, ["operatingHours", "maintenance", "incidents"], AUD, NONCE, holder)
    result = check(signer, text)
    full = claims_of(passport)
    assert result.claims == {k: full[k] for k in ("operatingHours", "maintenance", "incidents")}
    assert result.issuer == ISSUER and result.vct == VCT and result.status_idx == 41


def test_a_nested_path_discloses_only_that_member_of_each_element(credential, holder, signer):
    text = present(credential, ["maintenance.kind"], AUD, NONCE, holder)
    claims = check(signer, text).claims
    assert set(claims) == {"maintenance"}
    assert claims["maintenance"] and all(set(m) == {"kind"} for m in claims["maintenance"])


def test_the_verifier_output_holds_no_undisclosed_value(credential, holder, signer, passport):
    """Leak oracle: each undisclosed leaf (long enough to be distinctive) is searched for."""
    chosen = ["operatingHours", "incidents.severity"]
    result = check(signer, present(credential, chosen, AUD, NONCE, holder))
    output = json.dumps(
        {
            "claims": result.claims,
            "paths": result.paths,
            "meta": [result.issuer, result.kid, result.vct, result.status_uri, result.audience],
        }
    )
    full = claims_of(passport)
    shown = {p for p, _ in leaves(result.claims)}
    secret = [
        (p, v)
        for p, v in leaves(full)
        if not (p[0] == "operatingHours" or (p[0] == "incidents" and p[-1] == "severity"))
    ]
    assert secret and shown
    for path, value in secret:
        if isinstance(value, str) and len(value) >= 6:
            assert value not in output, f"{path} leaked"
    assert passport.code not in output and passport.current_owner.owner not in output


def test_tampering_with_any_disclosure_is_refused(credential, holder, signer):
    text = present(credential, ["maintenance"], AUD, NONCE, holder)
    parts = split(text)
    victim = parts.disclosures[0]
    content = json.loads(base64.urlsafe_b64decode(victim + "=" * (-len(victim) % 4)))
    content[-1] = "changed" if not isinstance(content[-1], str) else content[-1] + "!"
    forged = b64url(json.dumps(content).encode())
    disclosures = [forged, *parts.disclosures[1:]]
    resigned = present_raw(parts.jwt, disclosures, holder)
    message = refused("disclosure", signer, resigned)
    assert "match no digest" in message
    # the holder's key binding alone would not hide it either: sd_hash covers the disclosures
    swapped = "~".join([parts.jwt, forged, *parts.disclosures[1:], parts.kb_jwt])
    refused("disclosure", signer, swapped)


def present_raw(jwt: str, disclosures: list[str], holder: ECKey, **claims) -> str:
    """A presentation of exactly these disclosures with a valid key binding over them."""
    from gateway.credentials.sdjwt import join, sd_hash

    body = join(jwt, disclosures)
    kb = {"iat": int(datetime.now(UTC).timestamp()), "aud": AUD, "nonce": NONCE}
    kb = {**kb, "sd_hash": sd_hash(body), **claims}
    header = {"alg": "ES256", "typ": "kb+jwt"}
    return body + jws.serialize_compact(
        header, json.dumps(kb).encode(), holder, algorithms=["ES256"]
    )


def test_a_disclosure_dropped_after_key_binding_breaks_sd_hash(credential, holder, signer):
    parts = split(present(credential, ["incidents"], AUD, NONCE, holder))
    fewer = "~".join([parts.jwt, *parts.disclosures[1:], parts.kb_jwt])
    refused("sd_hash", signer, fewer)


def test_a_presentation_replayed_to_another_audience_is_refused(credential, holder, signer):
    text = present(credential, ["operatingHours"], AUD, NONCE, holder)
    assert "https://buyer.test" in refused("aud", signer, text, audience="https://insurer.test")


def test_a_stale_nonce_is_refused(credential, holder, signer):
    old = present(credential, ["operatingHours"], AUD, "yesterdays-nonce", holder)
    refused("nonce", signer, old)


def test_a_key_binding_older_than_the_window_is_refused(credential, holder, signer):
    text = present(credential, ["operatingHours"], AUD, NONCE, holder)
    later = datetime.now(UTC) + timedelta(minutes=6)
    assert "stale" in refused("iat", signer, text, now=later)
    refused("iat", signer, text, now=datetime.now(UTC) - timedelta(minutes=5))


def test_a_revoked_credential_is_refused(credential, holder, signer):
    text = present(credential, ["operatingHours"], AUD, NONCE, holder)
    assert check(signer, text, revoked=[40, 42]).status_idx == 41, "neighbours do not count"
    refused("revoked", signer, text, revoked=[41])


def test_a_status_list_for_another_uri_or_unsigned_is_refused(credential, holder, signer):
    text = present(credential, ["operatingHours"], AUD, NONCE, holder)
    other = status_list_token(signer, ISSUER + "/credentials/status/2", [])
    refused("status", signer, text, lists=lambda uri: other)
    stranger = RegistrySigner(ISSUER, "x", ECKey.generate_key("P-256", private=True), {})
    forged = status_list_token(stranger, URI, [])
    refused("kid", signer, text, lists=lambda uri: forged)


def test_a_presentation_without_key_binding_is_refused(credential, holder, signer):
    parts = split(present(credential, ["operatingHours"], AUD, NONCE, holder))
    bare = "~".join([parts.jwt, *parts.disclosures, ""])
    assert refused_rule(signer, bare) == "key-binding"
    refused("key-binding", signer, credential)


def refused_rule(signer, text) -> str:
    with pytest.raises(InvalidCredential) as caught:
        check(signer, text)
    return caught.value.rule


def unsigned(header: dict, payload: dict) -> str:
    enc = lambda d: b64url(json.dumps(d).encode())  # noqa: E731
    return f"{enc(header)}.{enc(payload)}."


def test_alg_none_is_refused_for_the_credential_and_the_key_binding(credential, holder, signer):
    parts = split(present(credential, ["operatingHours"], AUD, NONCE, holder))
    payload = segment(parts.jwt.split(".")[1])
    forged_jwt = unsigned({"alg": "none", "typ": SD_TYP, "kid": signer.kid}, payload)
    text = "~".join([forged_jwt, *parts.disclosures, parts.kb_jwt])
    assert "'none'" in refused("alg", signer, text)
    kb = segment(parts.kb_jwt.split(".")[1])
    forged_kb = unsigned({"alg": "none", "typ": "kb+jwt"}, kb)
    refused("alg", signer, "~".join([parts.jwt, *parts.disclosures, forged_kb]))


def test_a_key_binding_by_another_key_is_refused(credential, holder, signer):
    thief = ECKey.generate_key("P-256", private=True)
    refused("signature", signer, present(credential, ["operatingHours"], AUD, NONCE, thief))


def test_a_credential_signed_by_a_key_outside_the_jwks_is_refused(passport, holder, signer):
    rogue = RegistrySigner(ISSUER, "rogue", ECKey.generate_key("P-256", private=True), {})
    rogue = RegistrySigner(ISSUER, "rogue", rogue.key, {"keys": []})
    forged = issue_sd_jwt(passport, rogue, holder.as_dict(private=False), StatusRef(URI, 1))
    refused("kid", signer, present(forged, ["operatingHours"], AUD, NONCE, holder))


def test_a_wrong_typ_or_vct_is_refused(passport, holder, signer):
    parts = split(issue_sd_jwt(passport, signer, holder.as_dict(private=False), StatusRef(URI, 2)))
    payload = segment(parts.jwt.split(".")[1])
    for header, body, rule in [
        ({"alg": "ES256", "typ": "vc+jwt", "kid": signer.kid}, payload, "typ"),
        ({"alg": "ES256", "typ": SD_TYP, "kid": signer.kid}, {**payload, "vct": "x"}, "vct"),
    ]:
        jwt = jws.serialize_compact(
            header, json.dumps(body).encode(), signer.key, algorithms=["ES256"]
        )
        text = present("~".join([jwt, *parts.disclosures, ""]), ["robotCode"], AUD, NONCE, holder)
        refused(rule, signer, text)


def test_a_duplicated_disclosure_is_refused(credential, holder, signer):
    parts = split(present(credential, ["operatingHours"], AUD, NONCE, holder))
    doubled = present_raw(parts.jwt, [*parts.disclosures, parts.disclosures[0]], holder)
    refused("disclosure", signer, doubled)


def test_presenting_a_claim_the_credential_lacks_names_the_claims_it_has(credential, holder):
    with pytest.raises(InvalidSDJWT, match=r"no claim 'customers'.*maintenance"):
        present(credential, ["customers"], AUD, NONCE, holder)


# -- status list ------------------------------------------------------------------


def test_status_list_bits_are_least_significant_first():
    lookup = decode_list(encode_list([0, 9, SIZE - 1]))
    assert [lookup(i) for i in (0, 1, 8, 9, 10, SIZE - 1)] == [1, 0, 0, 1, 0, 1]
    # the draft's example: bits 0,1 of byte 0 and bit 1 of byte 1 ... as raw bytes
    import zlib

    raw = zlib.decompress(base64.urlsafe_b64decode(encode_list([0, 3, 9])["lst"] + "=="))
    assert raw[:2] == bytes([0b00001001, 0b00000010])


def test_the_ledger_revokes_a_credential_once_its_robot_changes_hands(tmp_path: Path):
    ledger = Ledger(tmp_path)
    a = ledger.allocate("CNAAA", owners=1)
    b = ledger.allocate("CNBBB", owners=2)
    assert a != b and 0 <= a < SIZE
    owners = {"CNAAA": 1, "CNBBB": 2}
    assert ledger.refresh(owners.get) == []
    owners["CNAAA"] = 2
    assert ledger.refresh(owners.get) == [a]
    owners["CNAAA"] = 1  # even a robot that comes back: a revoked credential stays revoked
    assert ledger.refresh(owners.get) == [a]
    del owners["CNBBB"]
    assert ledger.refresh(owners.get) == sorted([a, b])


def test_indices_are_drawn_at_random(tmp_path: Path):
    ledger = Ledger(tmp_path)
    picks = [ledger.allocate(f"CN{i}", owners=1) for i in range(20)]
    assert len(set(picks)) == 20
    assert picks != sorted(picks) and max(picks) - min(picks) > 20, "not handed out in order"


def test_digest_is_sha256_base64url_of_the_ascii_text():
    # RFC 9901 section 4.2.3's example disclosure and its digest
    example = "WyI2cU1RdlJMNWhhaiIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
    assert digest(example) == "uutlBuYeMDyjLLTpf6Jxi7yNkEF35jdyWMn9U7b_RYY"


def test_a_disclosure_nested_past_any_json_depth_is_refused_not_crashed(credential, holder, signer):
    parts = split(present(credential, ["operatingHours"], AUD, NONCE, holder))
    deep = b64url(("[" * 100_000 + "]" * 100_000).encode())
    assert "not base64url-encoded JSON" in refused(
        "disclosure", signer, present_raw(parts.jwt, [*parts.disclosures, deep], holder)
    )
