"""TTS pure logic: text normalisation, SSML, planning, the voice catalogue (no synthesis)."""

from __future__ import annotations

import pytest

from voice.core import ssml, textnorm
from voice.core.planning import plan_pieces
from voice.engines.voices import VoiceCatalogue, espeak_voices, read_voice_info
from voice.runtime.models import embedded_voice_path


@pytest.mark.parametrize("lang, text, want", [
    ("en", "It costs $5.50 today.", "It costs 5 dollars and 50 cents today."),
    ("en", "Meet on 2024-03-05 at 2:05 PM.", "Meet on March 5th, 2024 at 2 oh 5 P M."),
    ("en", "That is 1,234,567 people, 50% of them.", "That is 1234567 people, 50 percent of them."),
    ("de", "Am 5. März 2024 kostet es 12,50 €.", "Am fünften März 2024 kostet es 12 Euro und 50 Cent."),
    ("de", "Termin am 03.04.2025 um 14:30.", "Termin am dritten April 2025 um 14 Uhr 30."),
    ("fr", "Le 2024-03-01 à 14h30, 3 % de 1 250 €.", "Le 1er mars 2024 à 14 heures 30, 3 pour cent de 1250 euros."),
    ("es", "El 05/03/2024 a las 9:00 pagó 1.000 € y -3.", "El 5 de marzo de 2024 a las 9 en punto pagó 1000 euros y menos 3."),
])
def test_normalize(lang, text, want):
    assert textnorm.normalize(text, lang) == want


def test_sentences_and_clauses():
    assert textnorm.split_sentences("Dr. Smith is here. Is he? Yes!\n\nNew para") == [
        "Dr. Smith is here.", "Is he?", "Yes!", "New para"]
    clauses = textnorm.split_clauses("Thank you for calling the library, where you can renew books and pay fines", 6)
    assert clauses[0] == "Thank you for calling the library,"
    assert all(len(c.split()) <= 6 for c in clauses)
    assert " ".join(clauses) == "Thank you for calling the library, where you can renew books and pay fines"


def test_say_as_helpers():
    assert textnorm.say_characters("ab-1") == "A-B-1"
    assert textnorm.say_digits("12 34") == "1 2 3 4"
    assert textnorm.say_telephone("+1 (555) 123-4567") == "plus 1, 5 5 5, 1 2 3, 4 5 6 7"
    assert textnorm.say_cardinal("1,234", "en") == "1234" and textnorm.say_cardinal("-1.234,5", "de") == "minus 1234,5"
    with pytest.raises(ValueError):
        textnorm.say_cardinal("twelve")


def test_ssml_elements():
    doc = ('<speak>Hello <break time="500ms"/> world. <prosody rate="50%">slow <sub alias="World Wide Web">WWW</sub>'
           '</prosody> <say-as interpret-as="digits">42</say-as><p><s>One</s><s>Two</s></p>'
           '<say-as interpret-as="characters">ok</say-as> <say-as interpret-as="telephone">555-1234</say-as>'
           '<say-as interpret-as="cardinal">1,000</say-as></speak>')
    toks = ssml.parse(doc)
    assert ssml.Break(0.5) in toks
    assert ssml.Text("slow ", 0.5) in toks and ssml.Text("World Wide Web", 0.5) in toks
    assert ssml.Text("4 2", 1.0, verbatim=True) in toks
    assert ssml.Text("O-K", 1.0, verbatim=True) in toks and ssml.Text("5 5 5, 1 2 3 4", 1.0, verbatim=True) in toks
    assert ssml.Text("1000", 1.0, verbatim=True) in toks
    assert toks.count(ssml.Boundary("p")) == 1
    pieces = plan_pieces(doc, "en", is_ssml=True, sentence_silence_s=0.2)
    assert pieces[0].text == "Hello" and pieces[0].pause_s == pytest.approx(0.5)
    assert any(p.rate == 0.5 and "World Wide Web" in p.text for p in pieces)
    texts = [p.sentence_text for p in pieces if p.sentence_text]
    assert "One" in texts and "Two" in texts


@pytest.mark.parametrize("doc, message", [
    ("<speak>unclosed", "not well-formed"),
    ("<p>hi</p>", "<speak> as its root"),
    ("<speak><emphasis>hi</emphasis></speak>", "<emphasis> is not supported"),
    ("<speak><audio src='x.wav'/></speak>", "<audio> is not supported"),
    ("<speak><prosody pitch='high'>hi</prosody></speak>", "<prosody pitch> is not supported"),
    ("<speak><prosody rate='warp'>hi</prosody></speak>", "<prosody rate='warp'>"),
    ("<speak><prosody rate='10%'>hi</prosody></speak>", "0.25-4.0"),
    ("<speak><break time='forever'/></speak>", "<break time='forever'>"),
    ("<speak><break time='30s'/></speak>", "at most 10s"),
    ("<speak><say-as interpret-as='date'>1/2</say-as></speak>", "interpret-as='date'> is not supported"),
    ("<speak><say-as interpret-as='cardinal'>many</say-as></speak>", "is not a number"),
    ("<speak><sub>WWW</sub></speak>", "<sub> needs an alias"),
])
def test_ssml_errors(doc, message):
    with pytest.raises(ssml.SsmlError) as err:
        ssml.parse(doc)
    assert message in str(err.value)


def test_plan_first_piece_is_short():
    text = ("Your appointment with doctor Miller is confirmed for Tuesday morning at nine thirty in the east "
            "building. Call us if you need to change it.")
    pieces = plan_pieces(text, "en")
    assert len(pieces[0].text.split()) <= 8 and pieces[0].sentence_text.startswith("Your appointment")
    assert [p.sentence_index for p in pieces] == sorted(p.sentence_index for p in pieces)
    assert " ".join(p.text for p in pieces) == text
    assert pieces[-1].pause_s == 0 and any(p.pause_s == pytest.approx(0.2) for p in pieces)


def test_catalogue_fallbacks():
    joe = read_voice_info(embedded_voice_path())
    cat = VoiceCatalogue([joe])
    # (the catalogue's copy carries joe's measured WER: compare by name)
    assert cat.default.name == cat.for_language("en-GB").name == cat.for_language("en").name == joe.name
    de = cat.for_language("de-DE")
    assert de.name == "espeak-de" and not de.neural and de.engine == "espeak-ng"
    assert cat.for_language("zh").espeak_voice == "cmn"
    assert cat.for_language("xx") is None
    names = {v.name for v in espeak_voices()}
    assert {"espeak-fr", "espeak-es", "espeak-it", "espeak-ru"} <= names
    with pytest.raises(KeyError):
        cat.select("nobody")
