import datetime as dt
import pickle
import random
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schema.code import (
    SAFE,
    CodeAlphabetError,
    CodeCheckError,
    CodeCountryError,
    CodeDateError,
    CodeLengthError,
    CodeProfile,
    RobotCategory,
    RobotCode,
    RobotCodeError,
    check_character,
    is_valid,
)

BODY = "CNH7K2H0A1B32605281000012345"
EXAMPLE = BODY + "A"
PUBLISHED = CodeProfile.PUBLISHED


def _alphabet(position: int) -> str:
    return string.ascii_uppercase if position < 2 else SAFE


def _sample_codes(n: int = 20) -> list[str]:
    rng = random.Random(2026)
    countries = ["CN", "DE", "US", "JP", "KR", "FR", "GB", "SG", "IN", "BR"]
    codes = [EXAMPLE]
    while len(codes) < n:
        code = RobotCode.generate(
            rng.choice(countries),
            "".join(rng.choices(SAFE, k=4)),
            rng.choice("HWTXK") + "".join(rng.choices(SAFE, k=5)),
            dt.date(2000, 1, 1) + dt.timedelta(days=rng.randrange(36_500)),
            rng.choice(SAFE),
            "".join(rng.choices(SAFE, k=9)) if rng.random() < 0.5 else rng.randrange(10**9),
        )
        codes.append(code.value)
    return codes


SAMPLE = _sample_codes()


# --- the worked example -------------------------------------------------------------------


def test_worked_example_check_character():
    assert check_character(BODY) == "A"


def test_worked_example_parses_into_segments():
    code = RobotCode.parse(EXAMPLE)
    assert str(code) == EXAMPLE
    assert code.profile is CodeProfile.RPC29
    assert (code.country, code.manufacturer, code.model) == ("CN", "H7K2", "H0A1B3")
    assert code.category_letter == "H"
    assert code.category is RobotCategory.BIPED_HUMANOID
    assert code.production_date == dt.date(2026, 5, 28)
    assert (code.plant, code.sequence, code.check) == ("1", "000012345", "A")
    assert code.serial == "2605281000012345A"
    assert list(code.segments()) == [
        "country",
        "manufacturer",
        "model",
        "production_date",
        "plant",
        "sequence",
        "check",
    ]
    assert code.grouped() == "CN-H7K2-H0A1B3-260528-1-000012345-A"


def test_generate_reproduces_worked_example():
    code = RobotCode.generate("CN", "H7K2", "H0A1B3", dt.date(2026, 5, 28), "1", 12345)
    assert code.value == EXAMPLE
    folded = RobotCode.generate("cn", "h7k2", "h0a1b3", dt.date(2026, 5, 28), "1", "000012345")
    assert folded == code


# --- what a person types --------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "CN-H7K2-H0A1B3-260528-1-000012345-A",
        "cn h7k2 h0a1b3 260528 1 000012345 a",
        "  cnh7k2h0a1b32605281000012345a\n",
        "C-N H7-K2--H0A1B3 2605 28-1-0000 12345-A",
        "-CNH7K2H0A1B32605281000012345A-",
    ],
)
def test_typed_forms_are_accepted(typed):
    assert RobotCode.parse(typed).value == EXAMPLE
    assert is_valid(typed)


def test_non_ascii_lookalike_is_not_folded():
    # U+0131 dotless i upper-cases to "I"; "IN" would be a valid country.
    with pytest.raises(CodeAlphabetError) as err:
        RobotCode.parse("\u0131N" + EXAMPLE[2:])
    assert err.value.position == 1


def test_unknown_category_letter_is_valid():
    code = RobotCode.generate("CN", "H7K2", "K0A1B3", dt.date(2026, 5, 28), "1", 1)
    assert code.category_letter == "K"
    assert code.category is None
    other = RobotCode.generate("CN", "H7K2", "X0A1B3", dt.date(2026, 5, 28), "1", 1)
    assert other.category is RobotCategory.OTHER


# --- each rule, with the right error ---------------------------------------------------------


def _replace(code: str, position: int, ch: str) -> str:
    return code[: position - 1] + ch + code[position:]


@pytest.mark.parametrize(
    ("text", "error", "rule", "position"),
    [
        (EXAMPLE[:-1], CodeLengthError, "length", None),
        (EXAMPLE + "0", CodeLengthError, "length", None),
        ("", CodeLengthError, "length", None),
        (_replace(EXAMPLE, 14, "O"), CodeAlphabetError, "alphabet", 14),
        (_replace(EXAMPLE, 3, "I"), CodeAlphabetError, "alphabet", 3),
        (_replace(EXAMPLE, 29, "Z"), CodeAlphabetError, "alphabet", 29),
        (_replace(EXAMPLE, 1, "1"), CodeAlphabetError, "alphabet", 1),
        (_replace(EXAMPLE, 10, "_"), CodeAlphabetError, "alphabet", 10),
        (_replace(_replace(EXAMPLE, 20, "S"), 25, "Q"), CodeAlphabetError, "alphabet", 20),
        ("XK" + EXAMPLE[2:], CodeCountryError, "country", 1),
        ("UK" + EXAMPLE[2:], CodeCountryError, "country", 1),
        ("EU" + EXAMPLE[2:], CodeCountryError, "country", 1),
        (_replace(EXAMPLE, 14, "A"), CodeDateError, "date", 14),
        (_replace(EXAMPLE, 15, "1"), CodeDateError, "date", 15),  # month 15
        (_replace(EXAMPLE, 16, "0"), CodeDateError, "date", 15),  # month 00
        (EXAMPLE[:12] + "260230" + EXAMPLE[18:], CodeDateError, "date", 17),
        (EXAMPLE[:12] + "250229" + EXAMPLE[18:], CodeDateError, "date", 17),
        (EXAMPLE[:12] + "260500" + EXAMPLE[18:], CodeDateError, "date", 17),
        (_replace(EXAMPLE, 29, "B"), CodeCheckError, "check", 29),
        (_replace(EXAMPLE, 5, "L"), CodeCheckError, "check", 29),
    ],
)
def test_each_rule_is_reported(text, error, rule, position):
    with pytest.raises(error) as err:
        RobotCode.parse(text)
    assert isinstance(err.value, RobotCodeError)
    assert isinstance(err.value, ValueError)
    assert err.value.rule == rule
    assert err.value.position == position
    assert not is_valid(text)


def test_error_message_names_the_rule():
    with pytest.raises(CodeAlphabetError, match="'O' at position 14 is outside the RPC-29"):
        RobotCode.parse(_replace(EXAMPLE, 14, "O"))
    with pytest.raises(CodeCountryError, match="ISO 3166-1"):
        RobotCode.parse("XK" + EXAMPLE[2:])
    with pytest.raises(CodeCheckError, match="check character"):
        RobotCode.parse(_replace(EXAMPLE, 29, "B"))


def test_rules_apply_in_order():
    # A bad country and a bad check character: the country is reported first.
    with pytest.raises(CodeCountryError):
        RobotCode.parse("XK" + EXAMPLE[2:-1] + "B")
    # A bad alphabet and a bad date: alphabet first.
    with pytest.raises(CodeAlphabetError):
        RobotCode.parse(EXAMPLE[:12] + "261399" + EXAMPLE[18:-1] + "O")


def test_leap_day_is_a_real_date():
    code = RobotCode.generate("CN", "H7K2", "H0A1B3", dt.date(2028, 2, 29), "1", 7)
    assert code.production_date == dt.date(2028, 2, 29)


def test_error_survives_pickling():
    err = pickle.loads(pickle.dumps(CodeAlphabetError("bad", 7)))
    assert isinstance(err, CodeAlphabetError)
    assert (err.rule, err.position, str(err)) == ("alphabet", 7, "bad")


def test_direct_construction_validates():
    assert RobotCode(EXAMPLE).value == EXAMPLE
    with pytest.raises(CodeAlphabetError):
        RobotCode(EXAMPLE.lower())  # the constructor takes canonical codes only
    with pytest.raises(TypeError):
        RobotCode.parse(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "position"),
    [
        ({"country": "CHN"}, CodeLengthError, 1),
        ({"country": "XK"}, CodeCountryError, 1),
        ({"manufacturer": "H7K"}, CodeLengthError, 3),
        ({"manufacturer": "H7KO"}, CodeAlphabetError, 6),
        ({"model": "H0A1B"}, CodeLengthError, 7),
        ({"production_date": dt.date(1999, 12, 31)}, CodeDateError, 13),
        ({"plant": "12"}, CodeLengthError, 19),
        ({"plant": "S"}, CodeAlphabetError, 19),
        ({"sequence": -1}, CodeLengthError, 20),
        ({"sequence": 10**9}, CodeLengthError, 20),
        ({"sequence": "00001234"}, CodeLengthError, 20),
        ({"sequence": "0000I2345"}, CodeAlphabetError, 24),
    ],
)
def test_generate_rejects_bad_parts(kwargs, error, position):
    parts = {
        "country": "CN",
        "manufacturer": "H7K2",
        "model": "H0A1B3",
        "production_date": dt.date(2026, 5, 28),
        "plant": "1",
        "sequence": 12345,
    }
    with pytest.raises(error) as err:
        RobotCode.generate(**(parts | kwargs))
    assert err.value.position == position


def test_check_character_validates_its_body():
    with pytest.raises(CodeLengthError):
        check_character(BODY[:-1])
    with pytest.raises(CodeAlphabetError) as err:
        check_character(BODY[:5] + "O" + BODY[6:])
    assert err.value.position == 6


# --- exhaustive error detection ---------------------------------------------------------------


def test_sample_is_valid_and_varied():
    assert len(SAMPLE) == 20
    assert len(set(SAMPLE)) == 20
    assert all(is_valid(code) for code in SAMPLE)


def _check_catches(text: str) -> bool:
    """The check character alone rejects ``text``, whatever the country and date rules say."""
    try:
        return check_character(text[:-1]) != text[-1]
    except CodeAlphabetError:  # e.g. a digit moved into the country letters
        return True


@pytest.mark.parametrize("code", SAMPLE)
def test_every_single_substitution_is_rejected(code):
    for i, original in enumerate(code):
        for ch in _alphabet(i):
            if ch != original:
                changed = code[:i] + ch + code[i + 1 :]
                assert not is_valid(changed), (code, i + 1, ch)
                assert _check_catches(changed), (code, i + 1, ch)


@pytest.mark.parametrize("code", SAMPLE)
def test_every_adjacent_transposition_is_rejected(code):
    for i in range(len(code) - 1):
        a, b = code[i], code[i + 1]
        if a != b:
            changed = code[:i] + b + a + code[i + 2 :]
            assert not is_valid(changed), (code, i + 1)
            assert _check_catches(changed), (code, i + 1)


# --- round trips --------------------------------------------------------------------------------

safe = st.sampled_from(SAFE)


@st.composite
def robot_codes(draw):
    return RobotCode.generate(
        draw(st.sampled_from(["CN", "DE", "US", "JP", "KR", "AX", "ZW"])),
        draw(st.text(safe, min_size=4, max_size=4)),
        draw(st.text(safe, min_size=6, max_size=6)),
        draw(st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))),
        draw(safe),
        draw(st.integers(0, 10**9 - 1) | st.text(safe, min_size=9, max_size=9)),
    )


@given(robot_codes())
def test_generate_parse_round_trip(code):
    assert RobotCode.parse(str(code)) == code
    assert RobotCode.parse(code.value.lower()) == code
    assert check_character(code.value[:-1]) == code.check


@given(robot_codes())
def test_grouped_parse_round_trip(code):
    assert RobotCode.parse(code.grouped()) == code
    assert "".join(code.segments().values()) == code.value


@given(robot_codes(), st.lists(st.integers(0, 29), max_size=6), st.sampled_from([" ", "-"]))
def test_separators_anywhere(code, cuts, sep):
    text = code.value
    for cut in sorted(cuts, reverse=True):
        text = text[:cut] + sep + text[cut:]
    assert RobotCode.parse(text) == code


# --- the lenient published profile ------------------------------------------------------------


def test_published_profile_accepts_code_without_check():
    text = "CN-XXXX-XXXXXX-XXXXXXXXXXXXXXXXX"
    assert not is_valid(text)
    code = RobotCode.parse(text, PUBLISHED)
    assert code.value == "CN" + "X" * 27
    assert code.segments() == {
        "country": "CN",
        "manufacturer": "XXXX",
        "model": "XXXXXX",
        "serial": "X" * 17,
    }
    assert code.grouped() == text
    assert code.serial == "X" * 17
    assert code.production_date is None
    assert code.check is None
    assert code.category_letter is None
    assert code.category is None
    assert RobotCode.parse(code.grouped(), PUBLISHED) == code


def test_published_profile_allows_any_letter_and_no_date():
    code = RobotCode.parse("cnOIQSZ" + "Z" * 22, PUBLISHED)
    assert code.manufacturer == "OIQS"


def test_published_profile_accepts_rpc29_codes():
    assert RobotCode.parse(EXAMPLE, PUBLISHED).serial == "2605281000012345A"


@pytest.mark.parametrize(
    ("text", "error", "position"),
    [
        ("XK" + "0" * 27, CodeCountryError, 1),
        ("ZZ" + "0" * 27, CodeCountryError, 1),
        ("C1" + "0" * 27, CodeAlphabetError, 2),
        ("CN" + "0" * 26 + "_", CodeAlphabetError, 29),
        ("CN" + "0" * 26, CodeLengthError, None),
    ],
)
def test_published_profile_rejects(text, error, position):
    with pytest.raises(error) as err:
        RobotCode.parse(text, PUBLISHED)
    assert err.value.position == position
    assert not is_valid(text, PUBLISHED)
