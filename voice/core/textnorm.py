"""Text preparation for synthesis: normalisation, sentence and clause splitting, say-as.

Pure functions, no models. espeak-ng (which phonemises for Piper) already reads plain
numbers, decimals and percentages correctly in each language, so numbers stay as digits;
what it gets wrong is rewritten here: currencies (``$5.50`` is "dollar five point five
zero"), dates (German ``5. März`` ends a sentence after "fünf"), clock times in French
(``14h30``), and thousands separators that look like clause commas.

Languages with rules: en, de, fr, es. Others pass through with only the language-neutral
steps (whitespace, ISO dates become day-month-year digits).
"""

from __future__ import annotations

import re

from .languages import base_language

# -- sentence and clause splitting ----------------------------------------------------------

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "e.g", "i.e", "no", "approx",
    "hr", "fr", "frau", "z.b", "bzw", "ca", "nr", "usw", "mme", "mlle", "m", "sra", "srta", "dra", "ud",
}
_SENTENCE_END = re.compile(r"([.!?。！？]+[\"'»”)\]]*)(\s+)")
_CLAUSE_END = re.compile(r"([,;:—–]|\s-\s)(\s+)")
_CONJUNCTIONS = {
    "en": {"and", "but", "or", "so", "because", "which", "that", "while", "when", "where", "if", "although"},
    "de": {"und", "aber", "oder", "denn", "weil", "dass", "wenn", "als", "während", "sondern"},
    "fr": {"et", "mais", "ou", "donc", "car", "parce", "que", "qui", "quand", "lorsque", "pendant"},
    "es": {"y", "pero", "o", "porque", "que", "cuando", "donde", "mientras", "aunque", "sino"},
}


def _sentence_cuts(block: str) -> list[tuple[int, int]]:
    """(end of a sentence's text, start of the next) in ``block``: sentence punctuation followed
    by white space, except after common abbreviations ("Dr.", "z.B.") and lone letters."""
    cuts = []
    start = 0
    for m in _SENTENCE_END.finditer(block):
        word = block[start:m.start()].split()[-1:] or [""]
        token = word[0].lower().rstrip(".")
        if m.group(1) == "." and (token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())):
            continue
        cuts.append((m.end(1), m.end()))
        start = m.end()
    return cuts


def split_sentences(text: str) -> list[str]:
    """Split at sentence punctuation followed by white space, and at blank lines.

    Common abbreviations ("Dr.", "z.B.") and ordinals written as "5." before a lower-case
    or capitalised month word are not sentence ends.
    """
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        start = 0
        for end, nxt in _sentence_cuts(block):
            piece = block[start:end].strip()
            if piece:
                out.append(piece)
            start = nxt
        tail = block[start:].strip()
        if tail:
            out.append(tail)
    return [" ".join(s.split()) for s in out]


def complete_sentences_end(text: str) -> int:
    """Where the complete sentences of growing ``text`` end (0: none yet).

    A sentence is complete once white space follows its punctuation, or at a blank line, or
    when the text so far ends with a word and sentence punctuation ("waiting." but not "3.",
    which may go on as "3.5", nor "Dr.").
    """
    cut = 0
    for m in re.finditer(r"\n\s*\n", text):
        cut = m.end()
    cuts = _sentence_cuts(text[cut:])
    done = cut + cuts[-1][1] if cuts else cut
    if _ends_after_word(text, _TRAILING_SENTENCE_END) and not _abbreviation_at_end(text):
        return len(text)
    return done


def first_clause_end(text: str, min_words: int = 2) -> int:
    """Where the first clause of growing ``text`` ends (after its , ; : or dash and the white
    space after it, or at the end of the text when it ends with a word and such a mark) when
    it has at least ``min_words`` words; 0 otherwise."""
    for m in _CLAUSE_END.finditer(text):
        if len(text[:m.end(1)].split()) >= min_words:
            return m.end()
    if _ends_after_word(text, _TRAILING_CLAUSE_END) and len(text.split()) >= min_words:
        return len(text)
    return 0


_TRAILING_SENTENCE_END = re.compile(r"[^\W\d_][.!?。！？]+[\"'»”)\]]*$")
_TRAILING_CLAUSE_END = re.compile(r"[^\W\d_][,;:]$")


def _ends_after_word(text: str, pattern: re.Pattern) -> bool:
    return bool(pattern.search(text))


def _abbreviation_at_end(text: str) -> bool:
    token = (text.split()[-1:] or [""])[0].lower().rstrip(".\"'»”)]")
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def split_clauses(sentence: str, max_words: int, language: str = "en") -> list[str]:
    """Split one sentence into clauses of at most about ``max_words`` words.

    Cuts at clause punctuation (, ; : dashes) first; a clause still longer than
    ``max_words`` is cut before a conjunction, else at the word limit. Punctuation stays with
    the clause it ends, so the voice still hears it.
    """
    parts: list[str] = []
    start = 0
    for m in _CLAUSE_END.finditer(sentence):
        parts.append(sentence[start:m.end(1)].strip())
        start = m.end()
    parts.append(sentence[start:].strip())
    conj = _CONJUNCTIONS.get(base_language(language), _CONJUNCTIONS["en"])
    out: list[str] = []
    for part in filter(None, parts):
        words = part.split()
        while len(words) > max_words:
            cut = next((i for i in range(max_words, max(2, max_words // 2) - 1, -1)
                        if words[i].lower().strip(",.;:") in conj), max_words)
            out.append(" ".join(words[:cut]))
            words = words[cut:]
        if words:
            out.append(" ".join(words))
    # never leave a lone one-word clause: join it to its neighbour
    merged: list[str] = []
    for clause in out:
        if merged and (len(clause.split()) < 2 or len(merged[-1].split()) < 2):
            merged[-1] = f"{merged[-1]} {clause}"
        else:
            merged.append(clause)
    return merged


# -- say-as -----------------------------------------------------------------------------------

def say_characters(text: str) -> str:
    """Spell out: letters and digits one by one ("ABC1" -> "A-B-C-1")."""
    chars = [c.upper() for c in text if c.isalnum()]
    return "-".join(chars)


def say_digits(text: str) -> str:
    """Digits one by one: "1234" -> "1 2 3 4"."""
    return " ".join(c for c in text if c.isdigit())


_PLUS = {"en": "plus", "de": "plus", "fr": "plus", "es": "más"}


def say_telephone(text: str, language: str = "en") -> str:
    """A phone number digit by digit, its groups separated by short pauses."""
    lang = _lang(language)
    groups = [g for g in re.split(r"[^\d+]+", text) if g]
    spoken = []
    for g in groups:
        prefix = _PLUS.get(lang, "plus") + " " if g.startswith("+") else ""
        digits = say_digits(g)
        if digits:
            spoken.append(prefix + digits)
    return ", ".join(spoken)


def say_cardinal(text: str, language: str = "en") -> str:
    """A number as a quantity: separators removed, sign and decimal kept for the voice."""
    lang = _lang(language)
    t = text.strip().replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    decimal = "." if lang == "en" else ","
    thousands = "," if lang == "en" else "."
    if not re.fullmatch(r"[-+−]?[\d.,]+", t):
        raise ValueError(f"say-as cardinal: {text!r} is not a number")
    t = t.replace("−", "-").replace(thousands, "")
    if t.count(decimal) > 1:
        raise ValueError(f"say-as cardinal: {text!r} is not a number")
    return _minus(lang) + " " + t[1:] if t.startswith("-") else t.lstrip("+")


def _minus(lang: str) -> str:
    return {"de": "minus", "fr": "moins", "es": "menos"}.get(lang, "minus")


# -- normalisation ---------------------------------------------------------------------------

_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
}
_MONTHS = {k: v.split() for k, v in _MONTHS.items()}

_DE_ORDINAL = ["ersten", "zweiten", "dritten", "vierten", "fünften", "sechsten", "siebten", "achten", "neunten", "zehnten", "elften", "zwölften", "dreizehnten", "vierzehnten", "fünfzehnten", "sechzehnten", "siebzehnten", "achtzehnten", "neunzehnten", "zwanzigsten", "einundzwanzigsten", "zweiundzwanzigsten", "dreiundzwanzigsten", "vierundzwanzigsten", "fünfundzwanzigsten", "sechsundzwanzigsten", "siebenundzwanzigsten", "achtundzwanzigsten", "neunundzwanzigsten", "dreißigsten", "einunddreißigsten"]

# currency symbol / code -> per language (singular, plural, minor singular, minor plural)
_CURRENCIES = {
    "$": "USD", "US$": "USD", "USD": "USD", "€": "EUR", "EUR": "EUR", "£": "GBP", "GBP": "GBP",
}
_CURRENCY_WORDS = {
    "en": {"USD": ("dollar", "dollars", "cent", "cents"), "EUR": ("euro", "euros", "cent", "cents"),
           "GBP": ("pound", "pounds", "penny", "pence")},
    "de": {"USD": ("Dollar", "Dollar", "Cent", "Cent"), "EUR": ("Euro", "Euro", "Cent", "Cent"),
           "GBP": ("Pfund", "Pfund", "Penny", "Pence")},
    "fr": {"USD": ("dollar", "dollars", "cent", "cents"), "EUR": ("euro", "euros", "centime", "centimes"),
           "GBP": ("livre", "livres", "penny", "pence")},
    "es": {"USD": ("dólar", "dólares", "centavo", "centavos"), "EUR": ("euro", "euros", "céntimo", "céntimos"),
           "GBP": ("libra", "libras", "penique", "peniques")},
}
_AND = {"en": "and", "de": "und", "fr": "et", "es": "con"}
_SYM = r"(US\$|\$|€|£)"
_CODE = r"(USD|EUR|GBP)"


def _lang(language: str) -> str:
    return base_language(language) or "en"


def _number_parts(amount: str, lang: str) -> tuple[str, str]:
    """'1,234.50' (en) / '1.234,50' (de, fr, es) -> ('1234', '50')."""
    amount = amount.replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    dec = "." if lang == "en" else ","
    other = "," if dec == "." else "."
    # a lone separator followed by exactly two digits is a decimal point in any locale
    if dec not in amount and re.fullmatch(r"\d+\%s\d{2}" % other, amount):
        amount = amount.replace(other, dec)
    whole, _, frac = amount.partition(dec)
    return whole.replace(other, "") or "0", frac


def _money(amount: str, code: str, lang: str) -> str:
    words = _CURRENCY_WORDS.get(lang, _CURRENCY_WORDS["en"])[code]
    whole, frac = _number_parts(amount, lang)
    frac = (frac + "00")[:2] if frac else ""
    spoken = f"{whole} {words[0] if whole == '1' else words[1]}"
    if frac and int(frac):
        cents = str(int(frac))
        spoken += f" {_AND.get(lang, 'and')} {cents} {words[2] if cents == '1' else words[3]}"
    return spoken


def _replace_currencies(text: str, lang: str) -> str:
    num = r"(\d{1,3}(?:[.,\u202f\u00a0 ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)(?!\d)"

    def before(m):
        return _money(m.group(2), _CURRENCIES[m.group(1)], lang)

    def after(m):
        return _money(m.group(1), _CURRENCIES[m.group(2)], lang)

    text = re.sub(_SYM + r"\s?" + num, before, text)
    text = re.sub(num + r"\s?(?:" + _SYM + r"|" + _CODE + r"\b)",
                  lambda m: _money(m.group(1), _CURRENCIES[m.group(2) or m.group(3)], lang), text)
    text = re.sub(r"\b" + _CODE + r"\s?" + num, before, text)
    return text


def _date(day: int, month: int, year: str | None, lang: str) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    name = _MONTHS[lang][month - 1] if lang in _MONTHS else None
    if name is None:
        return f"{day} {month} {year}" if year else f"{day} {month}"
    y = f" {year}" if year else ""
    if lang == "en":
        suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        return f"{name} {day}{suffix}," + y if year else f"{name} {day}{suffix}"
    if lang == "de":
        return f"{_DE_ORDINAL[day - 1]} {name}{y}"
    if lang == "fr":
        return f"{'1er' if day == 1 else day} {name}{y}"
    return f"{day} de {name}" + (f" de {year}" if year else "")  # es


def _replace_dates(text: str, lang: str) -> str:
    def iso(m):
        return _date(int(m.group(3)), int(m.group(2)), m.group(1), lang) or m.group(0)

    text = re.sub(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", iso, text)

    def slashed(m):
        a, b, year = int(m.group(1)), int(m.group(2)), m.group(3)
        day, month = (b, a) if lang == "en" else (a, b)
        return _date(day, month, year, lang) or m.group(0)

    text = re.sub(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b", slashed, text)
    if lang == "de":
        text = re.sub(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b",
                      lambda m: _date(int(m.group(1)), int(m.group(2)), m.group(3), lang) or m.group(0), text)
        months = "|".join(_MONTHS["de"])

        def day_month(m):
            day = int(m.group(1))
            return f"{_DE_ORDINAL[day - 1]} {m.group(2)}" if 1 <= day <= 31 else m.group(0)

        text = re.sub(r"\b(\d{1,2})\.\s+(" + months + r")\b", day_month, text)
    return text


_AMPM = r"(\s*([aApP])(?:\.\s?[mM]\.|\s?[mM]\b))?"
_TIME = re.compile(r"\b([01]?\d|2[0-3])[:h]([0-5]\d)\b" + _AMPM)


def _replace_times(text: str, lang: str) -> str:
    def spoken(m):
        h, mi, ampm = int(m.group(1)), int(m.group(2)), m.group(4)
        if lang == "en":
            suffix = f" {ampm.upper()} M" if ampm else ""
            if mi == 0:
                return (f"{h} o'clock" if h <= 12 else f"{h} hundred") + (suffix if ampm else "")
            return f"{h} {'oh ' if mi < 10 else ''}{mi}{suffix}"
        if lang == "de":
            return f"{h} Uhr" + (f" {mi}" if mi else "")
        if lang == "fr":
            return f"{h} heure{'s' if h > 1 else ''}" + (f" {mi}" if mi else "")
        if lang == "es":
            return f"{h}" + (f" y {mi}" if mi else " en punto")
        return f"{h} {mi}"

    if lang != "fr":  # "14h30" is French; elsewhere only "14:30"
        return re.sub(r"\b([01]?\d|2[0-3]):([0-5]\d)\b" + _AMPM,
                      lambda m: spoken(m) if not (lang == "de" and _uhr_follows(text, m)) else m.group(0), text)
    return _TIME.sub(spoken, text)


def _uhr_follows(text: str, m) -> bool:
    return text[m.end():m.end() + 5].strip().lower().startswith("uhr")


_PERCENT = {"en": "percent", "de": "Prozent", "fr": "pour cent", "es": "por ciento"}


def normalize(text: str, language: str = "en") -> str:
    """Rewrite what the voice would misread; numbers stay digits (espeak-ng reads them)."""
    lang = _lang(language)
    text = " ".join(text.split())
    text = _replace_currencies(text, lang) if lang in _CURRENCY_WORDS else text
    text = _replace_dates(text, lang)
    text = _replace_times(text, lang)
    if lang in _PERCENT:
        text = re.sub(r"(\d)\s?%", lambda m: f"{m.group(1)} {_PERCENT[lang]}", text)
    # thousands separators: "1,234,567" (en) / "1.234.567" (de, es) / "1 234 567" (fr)
    if lang == "en":
        text = re.sub(r"\b\d{1,3}(?:,\d{3})+\b", lambda m: m.group(0).replace(",", ""), text)
    elif lang in ("de", "es"):
        text = re.sub(r"\b\d{1,3}(?:\.\d{3})+\b(?!\.\d)", lambda m: m.group(0).replace(".", ""), text)
    elif lang == "fr":
        text = re.sub(r"\b\d{1,3}(?:[\u202f\u00a0 ]\d{3})+\b", lambda m: re.sub(r"\D", "", m.group(0)), text)
    # a minus sign before a number
    text = re.sub(r"(?<![\w\d])[-−](\d)", lambda m: f"{_minus(lang)} {m.group(1)}", text)
    return text
