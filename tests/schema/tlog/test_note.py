"""Checkpoints and signed notes: what is refused, and why."""

from __future__ import annotations

import pytest

from schema.tlog.note import ED25519, Checkpoint, NoteError, Signer, Verifier, open_note, sign_note

ROOT = bytes(32)


def test_checkpoint_text_round_trips_with_extensions() -> None:
    cp = Checkpoint("robopass.registry/x/events", 12, bytes(range(32)), ("ext one",))
    assert cp.text().split("\n")[:2] == ["robopass.registry/x/events", "12"]
    assert Checkpoint.parse(cp.text()) == cp


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("o\n07\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "leading zeros"),
        ("o\n7\n", "origin, a size and a root"),
        ("o\n7\nAAAA\n", "32 bytes"),
        ("o\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "decimal"),
        # ASCII digits only: int() reads Arabic-Indic digits and isdigit() takes a superscript
        ("o\n\u0661\u0662\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "decimal"),
        ("o\n\u00b2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "decimal"),
        ("o\n7\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "newline"),
        ("o\n7\n!!!\n", "base64"),
    ],
)
def test_malformed_checkpoints_name_the_rule(text: str, rule: str) -> None:
    with pytest.raises(NoteError, match=rule):
        Checkpoint.parse(text)


def test_a_note_signed_by_an_unknown_key_is_refused_and_a_bad_signature_named() -> None:
    log = Signer.generate("a.example/log")
    other = Signer.generate("b.example/log")
    note = sign_note(Checkpoint("a.example/log", 1, ROOT).text(), [log])
    with pytest.raises(NoteError, match="no signature by a known key"):
        open_note(note, [other.verifier])
    # the same name with another key: a signature that does not verify
    impostor = Verifier("a.example/log", ED25519, other.verifier.public)
    assert impostor.key_id != log.verifier.key_id  # the key ID covers the key too
    forged = note.replace("\n1\n", "\n2\n")
    with pytest.raises(NoteError, match="does not verify"):
        open_note(forged, [log.verifier])


@pytest.mark.parametrize(
    ("name", "ok"),
    [("a.example/log", True), ("has space", False), ("has+plus", False), ("", False)],
)
def test_key_names_follow_the_note_rules(name: str, ok: bool) -> None:
    if ok:
        assert Signer.generate(name).verifier.name == name
    else:
        with pytest.raises(NoteError, match="key name"):
            Signer.generate(name)


def test_keys_round_trip_through_their_text_and_refuse_a_wrong_id() -> None:
    signer = Signer.generate("a.example/log")
    assert Signer.from_skey(signer.skey()) == signer
    assert Verifier.from_vkey(signer.verifier.vkey()) == signer.verifier
    with pytest.raises(NoteError, match="does not match"):
        Signer.from_skey(signer.skey().replace("a.example/log", "b.example/log"))


def test_a_note_text_may_hold_empty_lines_but_no_control_character() -> None:
    """signed-note: the text MAY contain empty lines (the signatures follow the last one)
    and MUST NOT hold an ASCII control character other than newline."""
    signer = Signer.generate("quasimodo.example/salvatore")
    poem = (
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\n"
        "ed \u00e8 subito sera.\n"
    )
    note = sign_note(poem, [signer])
    assert open_note(note, [signer.verifier]) == (poem, [signer.verifier])
    assert open_note(sign_note("\u00a0no-break\x7f\n", [signer]), [signer.verifier])
    for bad in ("tab\there\n", "bell\x07\n", "cr\r\n"):
        with pytest.raises(NoteError, match="control character"):
            sign_note(bad, [signer])


def test_a_checkpoint_has_no_empty_line() -> None:
    """tlog-checkpoint: at least three non-empty lines; extension lines non-empty too."""
    root = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    for text in (f"o\n7\n{root}\n\next\n", f"\no\n7\n{root}\n", f"o\n7\n{root}\n\n"):
        with pytest.raises(NoteError, match="not empty"):
            Checkpoint.parse(text)
