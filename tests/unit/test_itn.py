"""Inverse text normalisation per language (voice.core.itn)."""

from __future__ import annotations

import pytest

from voice.core.itn import normalize


@pytest.mark.parametrize(("lang", "spoken", "written"), [
    ("en", "my number is three two one five", "my number is 3215"),
    ("en", "one hundred and five dollars", "105 dollars"),
    ("en", "twenty-one", "21"),
    ("en", "March fifteenth", "March 15th"),
    ("en", "twenty first of May", "21st of May"),
    ("en", "3, 2, 3, 2.", "3232."),
    ("fr", "quatre-vingt-dix-sept", "97"),
    ("fr", "soixante-douze", "72"),
    ("fr", "vingt et un", "21"),
    ("fr", "dix-sept", "17"),
    ("fr", "le quinze mars", "le 15 mars"),
    ("fr", "le premier mai", "le 1er mai"),
    ("fr", "deux mille vingt-quatre", "2024"),
    ("fr", "trois, deux, trois, deux", "3232"),
    ("es", "doscientos cuarenta y dos", "242"),
    ("es", "veintiuno", "21"),
    ("es", "cuatro cinco seis", "456"),
    ("es", "treinta y uno de marzo", "31 de marzo"),
    ("es", "80 y 5 dólares.", "85 dólares."),
    ("it", "centoventitré", "123"),
    ("it", "quarantadue euro", "42 euro"),
    ("it", "ventotto", "28"),
    ("it", "il primo maggio", "il 1º maggio"),
    ("it", "tre due uno", "321"),
    ("ru", "двести сорок", "240"),
    ("ru", "три два один", "321"),
    ("ru", "две тысячи двадцать четыре", "2024"),
    ("ru", "пятнадцатое марта", "15-е марта"),
    ("it", "4,7,9,4", "4794"),  # digits Whisper wrote joined by commas
    ("en", "1,234,567 dollars", "1,234,567 dollars"),  # thousands stay as written
    # a run of digits said one by one goes on past four ("43456, 78" before)
    ("en", "four, three, four, five, six, seven, eight", "4345678"),
    ("fr", "Un, zéro, quatre, huit, zéro, un, quatre, trois.", "10480143."),
    ("fr", "Huit, sept, six, neuf, six, quatre.", "876964."),
    ("ru", "девять, восемь, три, ноль, девять, три", "983093"),
    ("en", "forty two five", "425"),  # a spelled whole number still joins a digit after it
    # "double"/"triple" a digit, as British callers read phone numbers
    ("en", "my number is double five three one", "my number is 5531"),
    ("en", "triple seven two double four", "777244"),
    ("en", "four three double oh nine", "43009"),
    ("en", "double 5, 3, 2", "5532"),  # Whisper wrote the digits
])
def test_spoken_numbers_are_written(lang: str, spoken: str, written: str) -> None:
    assert normalize(spoken, lang) == written


@pytest.mark.parametrize(("lang", "text"), [
    ("en", "no one came"),  # a lone small number word is a word
    ("en", "the first time"),
    ("fr", "un café"),  # French, Spanish, Italian articles are "one"
    ("es", "una casa"),
    ("it", "un momento"),
    ("en", "in 2024, 15 people"),  # written numbers stay as written
    ("de", "drei zwei eins"),  # no tables: unchanged
    ("en", "a double room"),  # no digit after "double"
    ("en", "I want a double one"),  # an article before it: a word
    ("fr", "double cinq"),  # English only
])
def test_text_that_stays(lang: str, text: str) -> None:
    assert normalize(text, lang) == text


def test_regional_tag_and_empty() -> None:
    assert normalize("three two one", "en-US") == "321"
    assert normalize("", "fr") == ""
    assert normalize("trois deux", None) == "trois deux"
