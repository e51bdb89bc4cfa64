import pickle
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema.uscc import UsccError, generate_uscc, uscc_check_character, validate_uscc

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
EXAMPLE = "91110108MA01K7XD2T"


def _sample(n: int = 10) -> list[str]:
    rng = random.Random(32100)
    return [EXAMPLE] + [generate_uscc("".join(rng.choices(ALPHABET, k=17))) for _ in range(n - 1)]


SAMPLE = _sample()


def test_example_is_valid():
    assert validate_uscc(EXAMPLE) == EXAMPLE
    assert uscc_check_character(EXAMPLE[:17]) == "T"
    assert generate_uscc(EXAMPLE[:17]) == EXAMPLE


def test_lower_case_and_surrounding_space_are_folded():
    assert validate_uscc(f"  {EXAMPLE.lower()}\n") == EXAMPLE


def test_weights_are_the_published_ones():
    # One unit at position i adds weight w_i, so the check value reveals each weight.
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    for i, weight in enumerate(weights):
        body = "0" * i + "1" + "0" * (16 - i)
        assert uscc_check_character(body) == ALPHABET[(31 - weight) % 31]


def test_remainder_zero_gives_check_zero():
    # 31 - 0 = 31, which wraps to 0.
    assert uscc_check_character("0" * 17) == "0"
    assert validate_uscc("0" * 18) == "0" * 18


@pytest.mark.parametrize(
    ("text", "rule", "position"),
    [
        (EXAMPLE[:-1], "length", None),
        (EXAMPLE + "0", "length", None),
        ("", "length", None),
        ("91110108MA01K7XD2" + "V", "alphabet", 18),
        ("9111O108MA01K7XD2T", "alphabet", 5),
        ("91110108MAI1K7XD2T", "alphabet", 11),
        ("91110108MA01K7XS2T", "alphabet", 16),
        ("Z1110108MA01K7XD2T", "alphabet", 1),
        ("91110108MA01K7XD2U", "check", 18),
        ("91110108MA01K7XD3T", "check", 18),
    ],
)
def test_each_rule_is_reported(text, rule, position):
    with pytest.raises(UsccError) as err:
        validate_uscc(text)
    assert isinstance(err.value, ValueError)
    assert (err.value.rule, err.value.position) == (rule, position)


def test_allow_list_skips_only_the_check():
    early = "91110108MA01K7XD2U"  # fails the check
    allow = frozenset({early})
    assert validate_uscc(early.lower(), allow=allow) == early
    assert validate_uscc(EXAMPLE, allow=allow) == EXAMPLE
    with pytest.raises(UsccError) as err:
        validate_uscc("91110108MA01K7XD3T", allow=allow)
    assert err.value.rule == "check"
    with pytest.raises(UsccError) as err:
        validate_uscc("9111O108MA01K7XD2U", allow=frozenset({"9111O108MA01K7XD2U"}))
    assert err.value.rule == "alphabet"


def test_body_helpers_validate_their_input():
    with pytest.raises(UsccError) as err:
        uscc_check_character(EXAMPLE)
    assert err.value.rule == "length"
    with pytest.raises(UsccError) as err:
        generate_uscc("91110108MA01K7XDV")
    assert (err.value.rule, err.value.position) == ("alphabet", 17)


def test_error_survives_pickling():
    err = pickle.loads(pickle.dumps(UsccError("bad", "check", 18)))
    assert (err.rule, err.position, str(err)) == ("check", 18, "bad")


@pytest.mark.parametrize("code", SAMPLE)
def test_every_single_substitution_is_rejected(code):
    for i, original in enumerate(code):
        for ch in ALPHABET:
            if ch != original:
                with pytest.raises(UsccError):
                    validate_uscc(code[:i] + ch + code[i + 1 :])


@pytest.mark.parametrize("code", SAMPLE)
def test_every_adjacent_transposition_is_rejected(code):
    for i in range(len(code) - 1):
        a, b = code[i], code[i + 1]
        if a != b:
            with pytest.raises(UsccError):
                validate_uscc(code[:i] + b + a + code[i + 2 :])


@given(st.text(st.sampled_from(ALPHABET), min_size=17, max_size=17))
def test_generate_validate_round_trip(body):
    code = generate_uscc(body.lower())
    assert code[:17] == body
    assert validate_uscc(code) == code
