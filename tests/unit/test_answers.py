"""Expected answers: each kind's grammar and normalised value (voice.core.answers)."""

from __future__ import annotations

import pytest

from voice.core.answers import YES_NO_MARGIN, Expect, choose_yes_no, parse, parse_expect, vocabulary

CASES = [
    (Expect.DIGITS, "fr", "3, 2, 3, 2.", "3232"),
    (Expect.DIGITS, "fr", "trois deux un cinq", "3215"),
    (Expect.DIGITS, "es", "Nueve, cero, cero, cuatro.", "9004"),
    (Expect.DIGITS, "ru", "Два, семь, два, шесть, пять.", "27265"),
    (Expect.DIGITS, "en", "double five one", "551"),
    (Expect.DIGITS, "en", "0 0 4 2", "0042"),
    (Expect.DIGITS, "en", "hello there", ""),
    (Expect.DIGITS, "it", "4,7,9,4", "4794"),  # digits Whisper wrote joined by commas
    (Expect.DIGITS, "ru", "0.0.6.7.", "0067"),
    (Expect.DIGITS, "en", "- - - -", ""),
    (Expect.NUMBER, "en", "forty two", "42"),
    (Expect.NUMBER, "it", "quarantadue", "42"),
    (Expect.NUMBER, "en", "minus five", "-5"),
    (Expect.NUMBER, "en", "3.5", "3.5"),
    (Expect.NUMBER, "fr", "soixante-douze", "72"),
    (Expect.AMOUNT, "en", "69 dollars", "69 USD"),
    (Expect.AMOUNT, "en", "$42.50", "42.50 USD"),
    (Expect.AMOUNT, "en", "ten dollars and fifty cents", "10.50 USD"),
    (Expect.AMOUNT, "it", "quarantadue euro", "42 EUR"),
    (Expect.AMOUNT, "es", "ochenta y tres dólares", "83 USD"),
    (Expect.AMOUNT, "ru", "32 доллара", "32 USD"),
    (Expect.AMOUNT, "fr", "vingt livres", "20 GBP"),
    (Expect.AMOUNT, "en", "$60, $2.00.", "62 USD"),  # "sixty ... two dollars" said apart
    (Expect.DATE, "en", "September 15th", "--09-15"),
    (Expect.DATE, "en", "March the fifteenth 2024", "2024-03-15"),
    (Expect.DATE, "fr", "le 7 mai", "--05-07"),
    (Expect.DATE, "fr", "le premier janvier", "--01-01"),
    (Expect.DATE, "es", "17 de agosto", "--08-17"),
    (Expect.DATE, "it", "ventisei maggio", "--05-26"),
    (Expect.DATE, "ru", "22 июля", "--07-22"),
    (Expect.DATE, "es", "24, 10, octubre", "--10-24"),
    (Expect.DATE, "en", "some day soon", ""),
    (Expect.TIME, "en", "8 o'clock", "08:00"),
    (Expect.TIME, "en", "3:30 p.m.", "15:30"),
    (Expect.TIME, "en", "half past three", "03:30"),
    (Expect.TIME, "es", "a las diez en punto", "10:00"),
    (Expect.TIME, "fr", "deux heures", "02:00"),
    (Expect.TIME, "it", "alle sette in punto", "07:00"),
    (Expect.TIME, "ru", "в восемь часов", "08:00"),
    (Expect.YES_NO, "en", "No.", "false"),
    (Expect.YES_NO, "en", "Yeah, sure", "true"),
    (Expect.YES_NO, "es", "Sí", "true"),
    (Expect.YES_NO, "fr", "Oui, c'est ça", "true"),
    (Expect.YES_NO, "it", "no", "false"),
    (Expect.YES_NO, "ru", "Нет.", "false"),
    (Expect.YES_NO, "en", "banana", ""),
    (Expect.YES_NO, "it", "non si si si", "true"),  # the majority
    (Expect.YES_NO, "fr", "No", "false"),  # another language's word
    (Expect.SPELLING, "en", "A, B, C, 1, 2", "ABC12"),
    (Expect.SPELLING, "en", "bee see dee", "BCD"),
]


@pytest.mark.parametrize(("kind", "lang", "text", "value"), CASES)
def test_normalised_value(kind: Expect, lang: str, text: str, value: str) -> None:
    answer = parse(kind, text, lang)
    assert answer is not None and answer.kind is kind
    assert answer.value == value


def test_free_has_no_answer_and_no_grammar() -> None:
    assert parse(Expect.FREE, "whatever", "en") is None
    assert vocabulary(Expect.FREE, "en") is None


def test_names() -> None:
    assert parse_expect("") is Expect.FREE
    assert parse_expect("Yes_No") is Expect.YES_NO
    with pytest.raises(ValueError):
        parse_expect("colour")


@pytest.mark.parametrize("lang", ["en", "fr", "es", "it", "ru"])
def test_vocabularies(lang: str) -> None:
    digits = vocabulary(Expect.DIGITS, lang)
    assert set("0123456789") <= digits and not any(w.isalpha() for w in digits)  # digits are written
    assert {",", "."} <= digits and not {"-", "!", "?"} & digits  # separators only
    assert {"0", ","} <= vocabulary(Expect.NUMBER, lang)
    assert not {"trois", "three", "tre", "три"} & vocabulary(Expect.AMOUNT, lang)  # numbers are written
    yes_no = vocabulary(Expect.YES_NO, lang)
    assert {"no", "non", "нет"} & yes_no and not {"banana", "maison"} & yes_no
    assert {"march", "mars", "marzo", "марта"} & vocabulary(Expect.DATE, lang)


def test_yes_no_from_scores() -> None:
    """The yes/no grammar's two sides scored (log probabilities): the clear winner, else None."""
    assert choose_yes_no(-1.4, -5.6) is True
    assert choose_yes_no(-6.7, -0.1) is False
    assert choose_yes_no(-1.0, -1.0 - YES_NO_MARGIN / 2) is None  # too close to call


def test_expected_length_is_checked_against_the_kind():
    from voice.core.answers import check_length

    check_length(Expect.DIGITS, (6, 6))
    check_length(Expect.SPELLING, (2, 0))  # at least 2, no upper bound
    check_length(Expect.YES_NO, (0, 0))  # unset: any kind
    for kind, length in ((Expect.YES_NO, (1, 1)), (Expect.DIGITS, (5, 4)), (Expect.DIGITS, (-1, 3)),
                         (Expect.DIGITS, (1, 65))):
        with pytest.raises(ValueError):
            check_length(kind, length)


def test_the_first_reading_of_the_expected_length_is_picked():
    from voice.core.answers import fits_length, pick_reading

    readings = ["0, 6, 1.", "0, 6, 1", "0 9 6 1.", "zéro neuf six un"]
    assert pick_reading(Expect.DIGITS, readings, "fr", (4, 4)) == 2
    assert pick_reading(Expect.DIGITS, readings, "fr", (0, 0)) == 0  # no length: the best
    assert pick_reading(Expect.DIGITS, readings, "fr", (7, 8)) == 0  # none fits: the best
    assert pick_reading(Expect.DIGITS, readings, "fr", (2, 3)) == 0
    assert pick_reading(Expect.SPELLING, ["A B", "A B 1 2"], "en", (4, 0)) == 1
    assert pick_reading(Expect.NUMBER, ["61", "961"], "en", (3, 3)) == 0  # numbers have no length
    assert fits_length("123", (3, 0)) and not fits_length("", (0, 0)) and not fits_length("1234", (1, 3))


@pytest.mark.parametrize("lang", ["en", "fr", "es", "it", "ru"])
def test_spoken_digit_vocabulary(lang: str) -> None:
    """A digit string decoded as words: the ten digit words and "," "." only, no numerals;
    each word reads as its digit."""
    from voice.core.answers import DIGIT_WORDS, spoken_vocabulary

    words = spoken_vocabulary(lang)
    other = {"oh", "double", "triple"} if lang == "en" else set()  # "five oh two", "double five"
    assert words == frozenset(DIGIT_WORDS[lang]) | other | {",", "."}
    assert not set("0123456789") & words
    text = ", ".join(DIGIT_WORDS[lang]).capitalize() + "."
    assert parse(Expect.DIGITS, text, lang).value == "0123456789"
    assert spoken_vocabulary(lang + "-XX") == words
    assert spoken_vocabulary("de") is None
    assert parse(Expect.DIGITS, "Double five, oh, triple two.", "en").value == "550222"


def test_the_first_reading_that_is_digits_only_is_picked() -> None:
    """A constrained search can still spell a word that is not a digit ("z", "nez"): such
    a reading is passed over, and None says no reading is digits only."""
    from voice.core.answers import complete_reading

    readings = ["un, z, six, six", "six, zéro, nez", "Un, sept, six, six.", "Un, sept, six."]
    assert complete_reading(readings, "fr") == 2
    assert complete_reading(readings, "fr", (3, 3)) == 3  # and of the expected length
    assert complete_reading(readings, "fr", (8, 8)) is None
    assert complete_reading(readings[:2], "fr") is None
    assert complete_reading([], "fr") is None
    assert complete_reading(["Cuatro, tres."], "es-MX") == 0
    assert parse(Expect.DIGITS, "Five, oh, two.", "en").value == "502"
