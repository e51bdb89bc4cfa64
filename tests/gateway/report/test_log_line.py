"""The report's transparency-log line, in process: a real node app with its log, a real
witness on a loopback port, a federation that checks both, and the report page over it.

The page says which checkpoint the version was proven in and who cosigned it, in both
languages, only for a robot served through a registry whose log the gateway checks.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.credentials.logkey import event_log_origin
from gateway.edge.auth import demo_issuer
from gateway.federation.config import RegistryConfig
from gateway.federation.source import FederatedSource
from gateway.node import create_node_app
from gateway.report.i18n import translator
from gateway.report.model import build_report
from gateway.service.services import Services
from gateway.service.transparency import EventLog
from gateway.service.witnessing import WitnessedLog
from gateway.web.app import create_app
from gateway.witness.app import create_witness_app
from gateway.witness.service import Witness
from gateway.witness.state import WitnessState
from policies import PolicySet, TokenVerifier
from schema.fields import field_classes
from schema.graphql.objects import EVERYTHING
from schema.source import Head, LogInclusion, RobotRecord
from schema.tlog.note import COSIGNATURE, Signer, Verifier
from tests.support.loopback import serving
from tests.support.node import ISSUER, Node, WithToken

ORIGIN = event_log_origin("cn-heis")
WITNESS = Signer.generate("robopass.witness/eu-dpp", COSIGNATURE)


@pytest.fixture
def witnessed_node(store, tmp_path: Path) -> Iterator[tuple[Node, Verifier]]:
    """The node serving its log, each checkpoint submitted to a witness served on loopback."""
    node = Node(store, "cn-miit", tmp_path / "data")
    signer = Signer.generate(ORIGIN)
    witness = Witness(WITNESS, [signer.verifier], WitnessState(tmp_path / "witness.db"))
    try:
        with serving(create_witness_app(witness)) as base:
            log = EventLog(store, signer)
            cosigned = WitnessedLog(log, [f"{base}/add-checkpoint"])
            verifier = TokenVerifier([demo_issuer(ISSUER, node.data_dir)])
            node.app = create_node_app(
                store, format="cn-miit", verifier=verifier, log=log, witnessed=cosigned
            )
            try:
                yield node, signer.verifier
            finally:
                cosigned.close()
    finally:
        witness.state.close()


def report_pages(node: Node, tmp_path: Path, code: str, **logging: Any) -> list[str]:
    """The report of `code` in English then Chinese, through a federation of `node`."""
    config = RegistryConfig(
        "cn-heis", "cn-miit", "http://node", ("CN",), ("CN",), freshness=0, timeout=30.0,
        **logging,
    )  # fmt: skip

    async def read() -> list[str]:
        source = FederatedSource([config], transports={"cn-heis": WithToken(node)})
        verifier = TokenVerifier([demo_issuer("http://test/auth", tmp_path)])
        app = create_app(Services(source, PolicySet.demo(), verifier=verifier))
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                pages = []
                for lang in ("en", "zh"):
                    page = await client.get(f"/robots/{code}", params={"lang": lang})
                    assert page.status_code == 200, page.text
                    pages.append(html.unescape(page.text))
                return pages
        finally:
            await source.aclose()

    return asyncio.run(read())


def test_a_logged_version_names_its_checkpoint_and_witness(witnessed_node, store, tmp_path):
    node, log_key = witnessed_node
    code = store.codes()[0]
    size = len(store.log_rows(0, 10**6))
    english, chinese = report_pages(
        node, tmp_path, code, log_key=log_key, witnesses=(WITNESS.verifier,)
    )
    assert (
        f"Included in checkpoint {size} of {ORIGIN}, witnessed by robopass.witness/eu-dpp."
        in english
    )
    zh = translator("zh")("log_included", checkpoint=size, origin=ORIGIN, witnesses=WITNESS.name)
    assert zh.startswith("已收录于") and zh in chinese


def test_a_log_without_required_witnesses_says_so(witnessed_node, store, tmp_path):
    node, log_key = witnessed_node
    english, chinese = report_pages(node, tmp_path, store.codes()[1], log_key=log_key)
    assert f"of {ORIGIN}; this gateway requires no witness." in english
    assert "本网关不要求见证" in chinese
    assert "witnessed by" not in english


def test_no_log_no_line(witnessed_node, store, tmp_path):
    node, _ = witnessed_node
    english, chinese = report_pages(node, tmp_path, store.codes()[0])
    assert "data-log=" not in english and "Included in checkpoint" not in english
    assert "data-log=" not in chinese and "检查点" not in chinese


def test_the_line_is_left_out_for_a_viewer_who_may_not_see_the_registry(store):
    code = store.codes()[0]
    events = store.events(code)
    record = RobotRecord(store.passport(code), Head(events[-1].sequence, events[-1].hash))
    logged = LogInclusion(ORIGIN, 12, ("robopass.witness/eu-dpp",))
    assert build_report(record, events, None, EVERYTHING, logged).integrity.log == logged
    hidden = set(field_classes()) - {"identity.home_registry"}
    assert build_report(record, events, None, hidden, logged).integrity.log is None
