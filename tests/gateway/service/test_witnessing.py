"""The node's side of tlog-witness: what it relays from a witness into the checkpoint it
serves. Witnesses here are real HTTP servers on loopback."""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from gateway.service.witnessing import WitnessedLog
from gateway.witness.app import create_witness_app
from gateway.witness.service import Witness
from gateway.witness.state import WitnessState
from schema.tlog.merkle import Tree, leaf_hash
from schema.tlog.note import (
    COSIGNATURE,
    Checkpoint,
    Signer,
    open_note,
    sign_note,
    split_note,
    verify_cosignature,
)
from tests.support.loopback import serving

LOG = Signer.generate("robopass.registry/relay/events")
WITNESS = Signer.generate("robopass.witness/relay", COSIGNATURE)


class GrowingLog:
    """A signed log of `size` leaves; the test grows it."""

    def __init__(self) -> None:
        self.tree = Tree([leaf_hash(b"leaf %d" % i) for i in range(40)])
        self.size = 10

    def checkpoint(self) -> str:
        text = Checkpoint(LOG.name, self.size, self.tree.root(self.size)).text()
        return sign_note(text, [LOG])

    def consistency(self, old: int, new: int) -> list[bytes]:
        return self.tree.consistency_proof(old, new)


def broken(body: str) -> Starlette:
    """A "witness" (a proxy, a misconfigured URL) that answers 200 with `body`."""

    async def add(request: Request) -> Response:
        return PlainTextResponse(body)

    return Starlette(routes=[Route("/add-checkpoint", add, methods=["POST"])])


def test_a_200_that_is_not_signature_lines_is_left_out_not_relayed(tmp_path: Path) -> None:
    state = WitnessState(tmp_path / "witness.db")
    honest = create_witness_app(Witness(WITNESS, [LOG.verifier], state))
    log = GrowingLog()
    try:
        with (
            serving(honest) as good,
            serving(broken("<html>502 Bad Gateway</html>")) as html,
            serving(broken("")) as empty,
        ):
            urls = [f"{good}/add-checkpoint", f"{html}/add-checkpoint", f"{empty}/add-checkpoint"]
            witnessed = WitnessedLog(log, urls)
            try:
                note = witnessed.checkpoint()
                # the note stays readable: the log's signature and the honest cosignature
                text, _ = open_note(note, [LOG.verifier])
                _, signatures = split_note(note)
                assert len(signatures) == 2
                assert verify_cosignature(text, signatures[1], WITNESS.verifier) is not None
                errors = witnessed.errors()
                assert set(errors) == set(urls[1:])
                assert all("not note signature lines" in e for e in errors.values())
                log.size = 25  # the honest witness goes on from what it cosigned
                grown, _ = split_note(witnessed.checkpoint())
                assert Checkpoint.parse(grown).size == 25
                assert state.latest(LOG.name).size == 25
            finally:
                witnessed.close()
    finally:
        state.close()
