"""Signed notes, checkpoints and witness cosignatures in the C2SP formats.

- `c2sp.org/signed-note`: a UTF-8 text ending in a newline, a blank line, then
  one line per signature, `— <key name> <base64(key ID || signature)>`. The key
  ID is the first four bytes of SHA-256(name || 0x0A || type || public key);
  a verifier key is written `<name>+<key ID in hex>+<base64(type || key)>`.
- `c2sp.org/tlog-checkpoint`: the text is the log's origin, its size in
  decimal and the base64 root hash, one per line, then optional extension lines.
- `c2sp.org/tlog-cosignature` (cosignature/v1, type 0x04): a witness signs
  `cosignature/v1\\ntime <seconds>\\n` followed by the checkpoint text, and the
  signature line carries key ID || 8-byte big-endian time || Ed25519 signature.

Ed25519 (type 0x01) through the `cryptography` package; no I/O here. The
private key text is the Go `note` package's `PRIVATE+KEY+...` form, so keys
move between this and other C2SP tools.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "COSIGNATURE",
    "DECIMAL",
    "ED25519",
    "Checkpoint",
    "NoteError",
    "Signature",
    "Signer",
    "Verifier",
    "cosign",
    "open_note",
    "sign_note",
    "split_note",
    "verify_cosignature",
]

ED25519 = 0x01
COSIGNATURE = 0x04
DASH = "\u2014"
MAX_SIGNATURES = 100
MAX_TIME = 2**63 - 1
"""A cosignature's timestamp "MUST NOT exceed 2^63 - 1" (tlog-cosignature)."""
DECIMAL = re.compile(r"0|[1-9][0-9]*")
"""A size as the C2SP formats write it: ASCII decimal, no leading zeros (`str.isdigit`
takes other scripts' digits, which `int` then reads)."""


class NoteError(ValueError):
    """A note, key or checkpoint is malformed or does not verify; the message says which."""


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not base64") from None


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise NoteError(f"key name {name!r} must be non-empty, printable, without spaces or '+'")


def key_id(name: str, kind: int, public: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True, slots=True)
class Verifier:
    """A public key under a name: checks note signatures (0x01) or cosignatures (0x04)."""

    name: str
    kind: int
    public: bytes

    @property
    def key_id(self) -> int:
        return key_id(self.name, self.kind, self.public)

    def vkey(self) -> str:
        encoded = base64.b64encode(bytes([self.kind]) + self.public).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    @classmethod
    def from_vkey(cls, text: str) -> Self:
        parts = text.strip().split("+", 2)
        if len(parts) != 3 or len(parts[1]) != 8:
            raise NoteError("a verifier key is <name>+<8 hex digits>+<base64 key>")
        name, hex_id, encoded = parts
        _check_name(name)
        raw = _b64decode(encoded, "the verifier key")
        if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE):
            raise NoteError("the verifier key is not an Ed25519 (0x01) or cosignature (0x04) key")
        verifier = cls(name, raw[0], raw[1:])
        try:
            declared = int(hex_id, 16)
        except ValueError:
            raise NoteError("the verifier key's ID is not hexadecimal") from None
        if declared != verifier.key_id:
            raise NoteError(f"the verifier key's ID {hex_id} does not match its name and key")
        return verifier

    def check(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True, slots=True)
class Signer:
    """A private Ed25519 key under a name, for a log (0x01) or a witness (0x04)."""

    name: str
    kind: int
    seed: bytes

    @classmethod
    def generate(cls, name: str, kind: int = ED25519) -> Self:
        _check_name(name)
        raw = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(name, kind, raw)

    @classmethod
    def from_skey(cls, text: str) -> Self:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key is PRIVATE+KEY+<name>+<key ID>+<base64 key>")
        name, hex_id, encoded = parts[2:]
        _check_name(name)
        raw = _b64decode(encoded, "the signer key")
        if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE):
            raise NoteError("the signer key is not an Ed25519 (0x01) or cosignature (0x04) key")
        signer = cls(name, raw[0], raw[1:])
        if f"{signer.verifier.key_id:08x}" != hex_id.lower():
            raise NoteError(f"the signer key's ID {hex_id} does not match its name and key")
        return signer

    def skey(self) -> str:
        encoded = base64.b64encode(bytes([self.kind]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id:08x}+{encoded}"

    @property
    def verifier(self) -> Verifier:
        public = self._key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return Verifier(self.name, self.kind, public)

    def sign(self, message: bytes) -> bytes:
        return self._key().sign(message)

    def _key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line of a note: the key name, its 4-byte ID and what follows it."""

    name: str
    key_id: int
    body: bytes

    def line(self) -> str:
        encoded = base64.b64encode(self.key_id.to_bytes(4, "big") + self.body).decode()
        return f"{DASH} {self.name} {encoded}\n"


def _check_text(text: str) -> None:
    """The signed-note rules for a text: it ends in a newline and has no ASCII control
    character but newlines. It may have empty lines (the signatures follow the last)."""
    if not text.endswith("\n"):
        raise NoteError("a note's text ends with a newline")
    if any(c < " " and c != "\n" for c in text):
        raise NoteError("a note's text has a control character")


def sign_note(text: str, signers: list[Signer]) -> str:
    """`text` with one Ed25519 signature line per signer."""
    _check_text(text)
    lines = []
    for signer in signers:
        if signer.kind != ED25519:
            raise NoteError(f"{signer.name}: only an Ed25519 key signs a note; witnesses cosign")
        lines.append(Signature(signer.name, signer.verifier.key_id, signer.sign(text.encode())))
    return text + "\n" + "".join(s.line() for s in lines)


def split_note(note: str) -> tuple[str, list[Signature]]:
    """The text and the signature lines of a note, unchecked."""
    text, sep, block = note.rpartition("\n\n")
    if not sep:
        raise NoteError("a signed note has a blank line before its signatures")
    text += "\n"
    _check_text(text)
    if not block.endswith("\n"):
        raise NoteError("a signed note ends with a newline")
    signatures = []
    for line in block[:-1].split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH:
            raise NoteError("a signature line is '\u2014 <name> <base64>'")
        _check_name(parts[1])
        raw = _b64decode(parts[2], "a signature")
        if len(raw) < 5:
            raise NoteError("a signature is too short")
        signatures.append(Signature(parts[1], int.from_bytes(raw[:4], "big"), raw[4:]))
    if len(signatures) > MAX_SIGNATURES:
        raise NoteError(f"a note carries at most {MAX_SIGNATURES} signatures")
    return text, signatures


def _matching(signature: Signature, verifier: Verifier) -> bool:
    return signature.name == verifier.name and signature.key_id == verifier.key_id


def open_note(note: str, verifiers: list[Verifier]) -> tuple[str, list[Verifier]]:
    """The text and which of `verifiers` signed it (Ed25519 signatures only).

    A signature by an unknown key is ignored; one by a known key that does not
    verify is an error, as is a note no known key signed.
    """
    text, signatures = split_note(note)
    signed: list[Verifier] = []
    for verifier in verifiers:
        if verifier.kind != ED25519:
            continue
        for signature in signatures:
            if _matching(signature, verifier):
                if not verifier.check(text.encode(), signature.body):
                    raise NoteError(f"the signature of {verifier.name} does not verify")
                if verifier not in signed:
                    signed.append(verifier)
    if not signed:
        raise NoteError("the note carries no signature by a known key")
    return text, signed


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(text: str, signer: Signer, timestamp: int) -> Signature:
    """A witness's cosignature/v1 of the checkpoint `text` at `timestamp` (Unix seconds)."""
    if signer.kind != COSIGNATURE:
        raise NoteError(f"{signer.name}: a cosignature needs a cosignature (0x04) key")
    if not 0 <= timestamp <= MAX_TIME:
        raise NoteError(f"a cosignature's time is from 0 to {MAX_TIME}")
    body = struct.pack(">Q", timestamp) + signer.sign(_cosigned_message(text, timestamp))
    return Signature(signer.name, signer.verifier.key_id, body)


def verify_cosignature(text: str, signature: Signature, verifier: Verifier) -> int | None:
    """When a witness cosigned checkpoint `text`; None unless `signature` is its valid one."""
    if verifier.kind != COSIGNATURE or not _matching(signature, verifier):
        return None
    if len(signature.body) != 8 + 64:
        return None
    (timestamp,) = struct.unpack(">Q", signature.body[:8])
    if timestamp > MAX_TIME:
        return None
    if not verifier.check(_cosigned_message(text, timestamp), signature.body[8:]):
        return None
    return int(timestamp)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's origin, size and root hash: the text a log signs and witnesses cosign."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        root = base64.b64encode(self.root).decode()
        extra = "".join(f"{line}\n" for line in self.extensions)
        return f"{self.origin}\n{self.size}\n{root}\n{extra}"

    @classmethod
    def parse(cls, text: str) -> Self:
        _check_text(text)
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("a checkpoint has an origin, a size and a root hash line")
        if not all(lines):
            raise NoteError("a checkpoint's lines are not empty (tlog-checkpoint)")
        origin, size, root = lines[:3]
        if not DECIMAL.fullmatch(size):
            raise NoteError("a checkpoint's size is a decimal number without leading zeros")
        digest = _b64decode(root, "the checkpoint's root hash")
        if len(digest) != 32:
            raise NoteError("a checkpoint's root hash is 32 bytes")
        return cls(origin, int(size), digest, tuple(lines[3:]))
