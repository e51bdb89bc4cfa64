"""Mapping documents served as export formats, and why none can leak a hidden field.

The caller's mask is applied to the canonical passport before a mapping runs. The leak
test gives a user mapping every way JSONata has to copy data (the whole document, its
text, its keys, descendants, counts) and checks under every mask that no withheld value
appears in its output, and that the output is exactly what the redacted passport holds.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import orjson
import pytest

from adapters.mapdoc import canonical_names, parse
from adapters.mapengine import compile_rules
from adapters.mapping import values_at
from gateway.config.settings import ConfigError, load_config
from gateway.credentials.signing import RegistrySigner
from gateway.credentials.verification import key_set, verify
from gateway.service.export import ExportFailed, UnknownFormat, export_document
from gateway.service.local import LocalSource
from gateway.service.mapdocs import load_folder
from gateway.service.services import Services
from gateway.synthetic.fleet import synthetic_fleet
from gateway.web.app import create_app
from gateway.web.serving import export_mappings
from policies import PolicySet
from policies.mask import mask_for, redact
from schema.codec import to_plain
from schema.events import fold
from schema.fields import leaf_paths
from schema.passport import DataClass, Passport
from tests.support.mappings import COPY_ALL, copy_all
from tests.support.paths import ROOT

MAPPINGS = ROOT / "samples" / "mappings"


def _passports() -> list[Passport]:
    cn = list(synthetic_fleet(4, seed=0))
    de = list(synthetic_fleet(7, seed=1, country="DE"))
    return [fold(log) for log in (cn[0], cn[1], cn[3], de[6])]


def _texts(value: Any) -> list[bytes]:
    if isinstance(value, str) and len(value) >= 4:
        return [orjson.dumps(value)[1:-1]]
    if isinstance(value, int | float) and not isinstance(value, bool) and len(repr(value)) >= 4:
        return [repr(value).encode()]
    return []


def _a_field_name(text: bytes) -> bool:
    """Text inside a field name (`firmware` in `firmware_version`): keys are not values."""
    return any(text.decode() in name for name in canonical_names())


MASKS = [
    mask_for(frozenset(combo))
    for size in range(len(DataClass) + 1)
    for combo in itertools.combinations(DataClass, size)
]


@pytest.mark.slow
def test_a_mapping_copying_everything_never_shows_a_withheld_value(tmp_path):
    programs = copy_all(tmp_path)
    checked = 0
    for passport in _passports():
        plain = to_plain(passport)
        for mask in MASKS:
            out = export_document(passport, "copy-all", mask, programs)
            visible = redact(plain, mask)
            assert out["whole"] == visible, "the mapping saw exactly the redacted passport"
            text = orjson.dumps(out)
            shown = {
                t
                for path in leaf_paths()
                if path in mask
                for v in values_at(plain, path)
                for t in _texts(v)
            }
            for path in leaf_paths():
                if path in mask:
                    continue
                for value in values_at(plain, path):
                    for form in _texts(value):
                        inside_shown = any(form in seen for seen in shown)
                        if not inside_shown and not _a_field_name(form):
                            assert form not in text, (path, mask, form)
                            checked += 1
    assert checked > 1000, "the sample passports hold withheld values to look for"


def test_served_formats_are_refused_when_unknown_and_fail_naming_the_rule(tmp_path):
    passport = _passports()[0]
    programs = copy_all(tmp_path)
    with pytest.raises(UnknownFormat, match="known: canonical, cn-miit, aas, untp-dpp, copy-all"):
        export_document(passport, "nope", None, programs)
    doc = parse(COPY_ALL.replace("expression: $string($)", "expression: $error('no')"), "x.yaml")
    broken = {"copy-all": compile_rules(doc.rules)}
    with pytest.raises(ExportFailed, match="rule 'text' \\(line 11\\)"):
        export_document(passport, "copy-all", None, broken)


def test_the_folder_is_a_configuration_key_whose_errors_name_file_rule_and_line(tmp_path):
    (tmp_path / "robot-card.schema.json").write_bytes(
        (MAPPINGS / "robot-card.schema.json").read_bytes()
    )
    text = (
        (MAPPINGS / "robot-card.mapping.yaml")
        .read_text()
        .replace("model.serial\n", "model.serail\n")
    )
    (tmp_path / "robot-card.mapping.yaml").write_text(text)
    settings = load_config(None, environ={"ROBOPASS_MAPPINGS": str(tmp_path)})
    with pytest.raises(
        ConfigError,
        match=r"mappings.folder: .*robot-card.mapping.yaml: rule 'serial', line \d+: the"
        r" expression reads 'serail'",
    ):
        export_mappings(settings)
    (tmp_path / "robot-card.mapping.yaml").write_text(
        text.replace("id: robot-card", "id: aas").replace("model.serail\n", "model.serial\n")
    )
    with pytest.raises(ConfigError, match="id 'aas' is already a built-in format"):
        export_mappings(settings)


def test_every_surface_serves_a_mapping_with_the_callers_mask(store, tmp_path):
    programs = load_folder(MAPPINGS, ("canonical", "cn-miit", "aas", "untp-dpp"))
    assert set(programs) == {"robot-card"}, "documents into canonical are not export formats"
    signer = RegistrySigner.from_data_dir(tmp_path, "https://registry.example", "cn-heis")
    app = create_app(
        Services(LocalSource(store), PolicySet.demo(), mappings=programs, signer=signer)
    )
    code = store.codes(limit=1)[0]
    query = {"query": f'{{ robot(code: "{code}") {{ export(mapping: "robot-card") }} }}'}

    async def ask() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return [
                await client.get(f"/robots/{code}/export/robot-card"),
                await client.post("/graphql", json=query),
                await client.get("/export/fleet.ndjson", params={"format": "robot-card"}),
                await client.get(f"/robots/{code}/export/canonical"),
                await client.get(f"/robots/{code}/export/robot-cards"),
                await client.get(f"/robots/{code}/export/robot-card", params={"signed": "true"}),
            ]

    single, graphql, bulk, canonical, unknown, signed = asyncio.run(ask())
    assert single.status_code == 200, single.text
    card = single.json()
    assert card["robotId"] == code
    assert graphql.json()["data"]["robot"]["export"] == card
    assert orjson.loads(bulk.text.splitlines()[0])["robotId"] == sorted(store.codes(limit=100))[0]
    # the public caller may not see the maker's contact (COMMERCIAL): neither may the card
    assert "contact" not in canonical.json()["manufacturer"]
    assert "contact" not in card["maker"]
    assert unknown.status_code == 400
    assert "robot-card" in unknown.json()["errors"][0]["extensions"]["formats"]
    # signed: a vc+jwt of the registry's key carrying the same (masked) card
    assert signed.status_code == 200, signed.text
    vc = verify(signed.content, key_set(signer.jwks))
    assert (vc.format, vc.robot_code) == ("robot-card", code)
    assert vc.credential["credentialSubject"]["document"] == card


def test_a_failing_mapping_and_a_wrong_choice_are_clear_answers(store):
    doc = parse(COPY_ALL.replace("expression: $string($)", "expression: $error('no')"), "x.yaml")
    app = create_app(
        Services(LocalSource(store), policy=None, mappings={"copy-all": compile_rules(doc.rules)})
    )
    code = store.codes(limit=1)[0]
    both = f'{{ robot(code: "{code}") {{ export(format: AAS, mapping: "copy-all") }} }}'
    failing = f'{{ robot(code: "{code}") {{ export(mapping: "copy-all") }} }}'
    unknown = f'{{ robot(code: "{code}") {{ export(mapping: "nope") }} }}'

    async def ask() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return [
                await client.get(f"/robots/{code}/export/copy-all"),
                await client.get("/export/fleet.ndjson", params={"format": "copy-all"}),
                *[
                    await client.post("/graphql", json={"query": q})
                    for q in (both, failing, unknown)
                ],
            ]

    single, bulk, both_answer, failing_answer, unknown_answer = asyncio.run(ask())
    assert single.status_code == 422
    error = single.json()["errors"][0]
    assert error["extensions"]["code"] == "EXPORT_FAILED"
    assert "rule 'text' (line 11)" in error["message"]
    first = orjson.loads(bulk.text.splitlines()[0])["errors"][0]
    assert first["extensions"] == {"code": "EXPORT_FAILED", "robot": sorted(store.codes())[0]}
    codes = [
        answer.json()["errors"][0]["extensions"]["code"]
        for answer in (both_answer, failing_answer, unknown_answer)
    ]
    assert codes == ["BAD_USER_INPUT", "EXPORT_FAILED", "BAD_USER_INPUT"]
    assert "known: canonical, cn-miit, aas, untp-dpp, copy-all" in unknown_answer.text
