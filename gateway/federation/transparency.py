"""The gateway's check of a registry's transparency log: no version served unless logged.

For a registry configured with `log_key`, every passport version the gateway
serves must be included in a checkpoint that the log key signed and that every
configured witness cosigned; and each checkpoint must extend the one verified
before it (an RFC 9162 consistency proof). What fails is evidence, and the
answer is `RegistryUntrusted` (REGISTRY_UNTRUSTED) naming it:

- a checkpoint not signed by the log key, a log that shrank, two roots for one
  size, a consistency or inclusion proof that does not verify: proof of a
  fork or a rewrite, kept (the registry stays untrusted until the gateway is
  restarted by someone who has looked at the evidence);
- a checkpoint without a required witness's cosignature: the witness refused
  it or has not seen it yet; refused now, and checked again on the next read.

Versions proven included are remembered by (code, hash), so a version costs
three calls to its node once (checkpoint, consistency, inclusion) and nothing
after. A list answer (a page of `robots`, a fleet's robots, a batch of single
reads) is checked whole: every version in it, against one checkpoint, with one
call for all their proofs (`check_many`); one version that fails refuses the
registry's part of the answer with the evidence naming that version.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from schema.source import Head, LogInclusion, RegistryUnavailable, RegistryUntrusted
from schema.tlog.leaves import event_leaf
from schema.tlog.merkle import leaf_hash, verify_consistency, verify_inclusion
from schema.tlog.note import (
    Checkpoint,
    NoteError,
    Verifier,
    open_note,
    split_note,
    verify_cosignature,
)

from .client import RegistryClient

__all__ = ["LogMonitor"]

REMEMBERED = 100_000
BATCH = 500
"""Leaves per `POST /log/proof/inclusions`, the node's cap."""


class LogMonitor:
    """What one gateway has verified of one registry's log."""

    def __init__(self, registry: str, log_key: Verifier, witnesses: tuple[Verifier, ...]) -> None:
        self.registry = registry
        self.log_key = log_key
        self.witnesses = witnesses
        self.size: int | None = None
        self.root: bytes | None = None
        self.untrusted: str | None = None
        self.last_refusal: str | None = None
        self._included: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._asked_at = 0.0
        self._lock = asyncio.Lock()

    def _distrust(self, evidence: str) -> RegistryUntrusted:
        if self.untrusted is None:
            self.untrusted = evidence
        return RegistryUntrusted(self.registry, evidence)

    async def check(
        self, client: RegistryClient, code: str, head: Head, read_at: float | None = None
    ) -> None:
        """Raise `RegistryUntrusted` unless version `head` of `code` is in a verified checkpoint.

        `read_at` (monotonic) is when the node's answer with the version arrived: a
        checkpoint asked for after that covers it, so a batch of versions shares one.
        """
        await self.check_many(client, [(code, head)], read_at)

    async def check_many(
        self,
        client: RegistryClient,
        versions: Sequence[tuple[str, Head]],
        read_at: float | None = None,
    ) -> None:
        """`check` for every version of a list answer: the whole answer or none of it.

        One checkpoint (shared with other answers read before it was asked for)
        and one call for the proofs of the versions not proven before, however
        many there are; the first that fails is the evidence.
        """
        if self.untrusted is not None:
            raise RegistryUntrusted(self.registry, self.untrusted)
        wanted = list(
            dict.fromkeys((c, h) for c, h in versions if (c, h.hash) not in self._included)
        )
        if not wanted:
            return
        async with self._lock:
            fresh = read_at is not None and self._asked_at > read_at
            if fresh and self.size is not None and self.root is not None:
                size, root = self.size, self.root
            else:
                size, root = await self._advance(client)
        proofs = await self._proofs(client, wanted, size)
        for code, head in wanted:
            version = f"passport {code} version {head.sequence} ({head.hash[:16]})"
            proof = proofs.get((code, head.sequence))
            if proof is None or proof.get("index") is None:
                raise self._distrust(f"{version} is not in the log's checkpoint of size {size}")
            commitment, index = proof.get("commitment"), proof.get("index")
            if not isinstance(commitment, str) or not isinstance(index, int):
                raise self._distrust(f"the inclusion proof of {version} is malformed")
            leaf = leaf_hash(event_leaf(code, head.sequence, commitment, head.hash))
            if not verify_inclusion(index, size, leaf, _hashes(proof), root):
                raise self._distrust(
                    f"{version} is not included in checkpoint {size}: the inclusion proof fails"
                )
        for code, head in wanted:
            self._included[(code, head.hash)] = size
        while len(self._included) > REMEMBERED:
            self._included.popitem(last=False)

    async def _proofs(
        self, client: RegistryClient, wanted: list[tuple[str, Head]], size: int
    ) -> dict[tuple[str, int], dict[str, Any]]:
        """The node's inclusion proofs of `wanted` in the tree of `size` leaves, by
        (code, sequence): one GET for one version, one POST per 500 for more."""
        if len(wanted) == 1:
            code, head = wanted[0]
            response = await client.call(
                "GET",
                "GET /log/proof/inclusion",
                "/log/proof/inclusion",
                idempotent=True,
                params={"code": code, "sequence": head.sequence, "size": size},
            )
            if response.status_code == 404:
                return {}
            _answered(self.registry, response.status_code)
            return {(code, head.sequence): _body(response)}
        found: dict[tuple[str, int], dict[str, Any]] = {}
        for start in range(0, len(wanted), BATCH):
            chunk = wanted[start : start + BATCH]
            response = await client.call(
                "POST",
                "POST /log/proof/inclusions",
                "/log/proof/inclusions",
                idempotent=True,
                json={
                    "size": size,
                    "leaves": [{"code": c, "sequence": h.sequence} for c, h in chunk],
                },
            )
            if response.status_code == 404:
                raise self._distrust(f"its log no longer holds checkpoint {size}: no proofs")
            _answered(self.registry, response.status_code)
            items = _body(response).get("proofs")
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict) and isinstance(item.get("code"), str):
                    found[(item["code"], item.get("sequence"))] = item  # type: ignore[index]
        return found

    def inclusion(self, code: str, head: Head) -> LogInclusion | None:
        """Where version `head` of `code` was proven included; None if it was not (or no
        longer is remembered), or if the registry is untrusted now."""
        size = self._included.get((code, head.hash))
        if size is None or self.untrusted is not None:
            return None
        return LogInclusion(self.log_key.name, size, tuple(w.name for w in self.witnesses))

    async def _advance(self, client: RegistryClient) -> tuple[int, bytes]:
        """Fetch the node's checkpoint, verify it and its consistency with the last one."""
        asked = time.monotonic()
        response = await client.call(
            "GET", "GET /log/checkpoint", "/log/checkpoint", idempotent=True
        )
        if response.status_code != 200:
            raise RegistryUntrusted(
                self.registry, f"its log answered HTTP {response.status_code} for a checkpoint"
            )
        note = response.text
        try:
            text, _ = open_note(note, [self.log_key])
            checkpoint = Checkpoint.parse(text)
        except NoteError as exc:
            raise self._distrust(
                f"its checkpoint does not verify with the log key: {exc}"
            ) from None
        if checkpoint.origin != self.log_key.name:
            raise self._distrust(f"its checkpoint is of another log, {checkpoint.origin!r}")
        size, root = checkpoint.size, checkpoint.root
        if self.size is not None and self.root is not None:
            seen = f"checkpoint {self.size} ({self.root.hex()[:16]})"
            new = f"checkpoint {size} ({root.hex()[:16]})"
            if size < self.size:
                raise self._distrust(f"its log shrank: {new} after {seen}")
            if size == self.size and root != self.root:
                raise self._distrust(f"two roots for one size: {new} after {seen}")
            if size > self.size:
                answer = await client.call(
                    "GET",
                    "GET /log/proof/consistency",
                    "/log/proof/consistency",
                    idempotent=True,
                    params={"from": self.size, "to": size},
                )
                if answer.status_code != 404:
                    # a 5xx or a refused token proves nothing: unavailable, asked again
                    _answered(self.registry, answer.status_code, "a consistency proof")
                hashes = _hashes(_body(answer)) if answer.status_code == 200 else []
                if not verify_consistency(self.size, size, self.root, root, hashes):
                    raise self._distrust(f"{new} does not extend {seen}: no consistency proof")
        self._check_cosignatures(note, text, checkpoint)
        self.size, self.root = size, root
        self._asked_at = asked
        return size, root

    def _check_cosignatures(self, note: str, text: str, checkpoint: Checkpoint) -> None:
        _, signatures = split_note(note)
        for witness in self.witnesses:
            if not any(verify_cosignature(text, s, witness) is not None for s in signatures):
                self.last_refusal = (
                    f"checkpoint {checkpoint.size} lacks the cosignature of witness {witness.name}"
                )
                raise RegistryUntrusted(self.registry, self.last_refusal)
        self.last_refusal = None


def _answered(registry: str, status: int, what: str = "proofs") -> None:
    """An answer other than 200 or 404 (a token the node refused, a request it could not
    read, a 5xx while it restarts) says nothing about the log: the registry is
    unavailable for now, not untrusted. A 404 (the node holds no such proof) is evidence."""
    if status != 200:
        raise RegistryUnavailable(registry, f"its log answered HTTP {status} for {what}")


def _body(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _hashes(body: dict[str, Any]) -> list[bytes]:
    items = body.get("hashes")
    if not isinstance(items, list):
        return []
    try:
        return [base64.b64decode(h, validate=True) for h in items if isinstance(h, str)]
    except (binascii.Error, ValueError):
        return []
