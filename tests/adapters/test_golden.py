"""Adapters' outputs are pinned byte for byte, so a faster encoder cannot change a document.

The digests in `data/adapter_digests.json` were taken from the adapters before they were
compiled for speed. Regenerate only for an intended change of format:
`PYTHONPATH=. python -m tests.adapters.test_golden`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import orjson
import pytest

from adapters import aas, cn_miit, untp
from adapters.translate import translate
from gateway.synthetic.fleet import synthetic_fleet
from schema.codec import from_plain, to_plain
from schema.events import fold
from schema.passport import Passport
from tests.support.paths import TESTS
from tests.support.samples import sample_doc

DIGESTS = TESTS / "data" / "adapter_digests.json"
FLEETS = [(0, "CN", 24), (1, "DE", 8), (2, "FR", 8)]


@cache
def plains() -> list[dict[str, Any]]:
    out = [to_plain(cn_miit.to_canonical(sample_doc()))]
    for seed, country, count in FLEETS:
        out += [to_plain(fold(log)) for log in synthetic_fleet(count, seed=seed, country=country)]
    return [*out, _sparse(out[0]), _sparse(out[1])]


def _sparse(plain: dict[str, Any]) -> dict[str, Any]:
    """A passport with its optional values absent and its lists empty."""
    sparse = copy.deepcopy(plain)
    sparse["manufacturer"].update(name_local=None, contact=None)
    sparse["hardware"].update(sensors=[], actuators=[])
    sparse["software"]["ai_models"] = []
    sparse["compliance"] = {
        "certifications": [],
        "mandated_updates": [],
        "recalls": [],
        "end_of_life": None,
    }
    for name in ("deployments", "maintenance", "incidents", "conditions", "ownership"):
        sparse[name] = []
    return sparse


def _report(doc: Any, source: str, target: str) -> bytes:
    return repr(translate(doc, source, target, validate=False).report).encode()


def _artifacts(plain: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    cn, env, vc = cn_miit.encode(plain), aas.encode(plain), untp.encode(plain)
    dumps: Callable[[Any], bytes] = orjson.dumps
    yield "to_plain", dumps(to_plain(from_plain(Passport, plain)))
    yield "cn-miit.encode", dumps(cn)
    yield "aas.encode", dumps(env)
    yield "untp.encode", dumps(vc)
    yield "cn-miit.decode", dumps(cn_miit.decode(cn))
    yield "aas.decode", dumps(aas.decode(env))
    yield "untp.decode", dumps(untp.decode(vc))
    yield "report cn-miit->aas", _report(cn, "cn-miit", "aas")
    yield "report cn-miit->untp-dpp", _report(cn, "cn-miit", "untp-dpp")
    yield "report untp-dpp->cn-miit", _report(vc, "untp-dpp", "cn-miit")


@cache
def cached_digests() -> dict[str, list[str]]:
    return digests()


def digests() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for plain in plains():
        for kind, data in _artifacts(plain):
            out.setdefault(kind, []).append(hashlib.sha256(data).hexdigest()[:16])
    return out


KINDS = [
    "to_plain",
    "cn-miit.encode",
    "aas.encode",
    "untp.encode",
    "cn-miit.decode",
    "aas.decode",
    "untp.decode",
    "report cn-miit->aas",
    "report cn-miit->untp-dpp",
    "report untp-dpp->cn-miit",
]


@pytest.mark.parametrize("kind", KINDS)
def test_outputs_are_byte_identical_to_the_pinned_ones(kind):
    expected = json.loads(DIGESTS.read_text())[kind]
    actual = cached_digests()[kind]
    changed = [i for i, (a, b) in enumerate(zip(actual, expected, strict=True)) if a != b]
    assert changed == [], f"{kind}: outputs of passports {changed} changed"


if __name__ == "__main__":
    DIGESTS.write_text(json.dumps(digests(), indent=1) + "\n")
