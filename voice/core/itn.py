"""Inverse text normalisation: spoken numbers in a final's text -> written form, per language.

``normalize("my number is three two one five", "en") == "my number is 3215"``. Handles, for
en, fr, es, it and ru: cardinals with their compounds ("quatre-vingt-dix-sept" 97,
"centoventitré" 123, "двести сорок" 240, "one hundred and five" 105), digit-by-digit readings
(runs of single digits become one digit string, as callers read account numbers), ordinals
("fifteenth" -> "15th", "quinzième" -> "15e", "primo" -> "1º", "первый" -> "1-й") and digits
Whisper already wrote ("3, 2, 3, 2." -> "3232"). Pure functions, no I/O. Languages without
tables come back unchanged. :func:`parse_numbers` is the shared tokenizer-level parser that
:mod:`voice.core.answers` builds its grammars on.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

LANGUAGES = ("en", "fr", "es", "it", "ru")


def fold(text: str) -> str:
    """Lower case without accents ("Décembre" -> "decembre"); Cyrillic й/ё kept as и/е."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c))


# word -> (value, kind). kinds: "u" unit 0-9, "t" teen 10-19, "d" tens 20-90, "h" hundreds
# value (200 = "doscientos"), "H" x100 multiplier, "k" x1000, "m" x1e6, "c" conjunction
# inside a number ("and", "et", "y", "e")
_EN = {
    "zero": (0, "u"), "oh": (0, "u"), "o": (0, "u"), "one": (1, "u"), "two": (2, "u"), "three": (3, "u"),
    "four": (4, "u"), "five": (5, "u"), "six": (6, "u"), "seven": (7, "u"), "eight": (8, "u"), "nine": (9, "u"),
    "ten": (10, "t"), "eleven": (11, "t"), "twelve": (12, "t"), "thirteen": (13, "t"), "fourteen": (14, "t"),
    "fifteen": (15, "t"), "sixteen": (16, "t"), "seventeen": (17, "t"), "eighteen": (18, "t"),
    "nineteen": (19, "t"), "twenty": (20, "d"), "thirty": (30, "d"), "forty": (40, "d"), "fourty": (40, "d"),
    "fifty": (50, "d"), "sixty": (60, "d"), "seventy": (70, "d"), "eighty": (80, "d"), "ninety": (90, "d"),
    "hundred": (100, "H"), "thousand": (1000, "k"), "million": (10**6, "m"), "and": (0, "c"),
}
_FR = {
    "zero": (0, "u"), "un": (1, "u"), "une": (1, "u"), "deux": (2, "u"), "trois": (3, "u"), "quatre": (4, "u"),
    "cinq": (5, "u"), "six": (6, "u"), "sept": (7, "u"), "huit": (8, "u"), "neuf": (9, "u"),
    "dix": (10, "t"), "onze": (11, "t"), "douze": (12, "t"), "treize": (13, "t"), "quatorze": (14, "t"),
    "quinze": (15, "t"), "seize": (16, "t"), "vingt": (20, "d"), "vingts": (20, "d"), "trente": (30, "d"),
    "quarante": (40, "d"), "cinquante": (50, "d"), "soixante": (60, "d"), "septante": (70, "d"),
    "huitante": (80, "d"), "octante": (80, "d"), "nonante": (90, "d"),
    "cent": (100, "H"), "cents": (100, "H"), "mille": (1000, "k"), "mil": (1000, "k"),
    "million": (10**6, "m"), "millions": (10**6, "m"), "et": (0, "c"),
}
_ES = {
    "cero": (0, "u"), "uno": (1, "u"), "una": (1, "u"), "un": (1, "u"), "dos": (2, "u"), "tres": (3, "u"),
    "cuatro": (4, "u"), "cinco": (5, "u"), "seis": (6, "u"), "siete": (7, "u"), "ocho": (8, "u"),
    "nueve": (9, "u"), "diez": (10, "t"), "once": (11, "t"), "doce": (12, "t"), "trece": (13, "t"),
    "catorce": (14, "t"), "quince": (15, "t"), "dieciseis": (16, "t"), "diecisiete": (17, "t"),
    "dieciocho": (18, "t"), "diecinueve": (19, "t"), "veinte": (20, "d"), "treinta": (30, "d"),
    "cuarenta": (40, "d"), "cincuenta": (50, "d"), "sesenta": (60, "d"), "setenta": (70, "d"),
    "ochenta": (80, "d"), "noventa": (90, "d"), "cien": (100, "h"), "ciento": (100, "h"),
    "doscientos": (200, "h"), "doscientas": (200, "h"), "trescientos": (300, "h"), "trescientas": (300, "h"),
    "cuatrocientos": (400, "h"), "cuatrocientas": (400, "h"), "quinientos": (500, "h"), "quinientas": (500, "h"),
    "seiscientos": (600, "h"), "seiscientas": (600, "h"), "setecientos": (700, "h"), "setecientas": (700, "h"),
    "ochocientos": (800, "h"), "ochocientas": (800, "h"), "novecientos": (900, "h"), "novecientas": (900, "h"),
    "mil": (1000, "k"), "millon": (10**6, "m"), "millones": (10**6, "m"), "y": (0, "c"),
}
for _u, _w in enumerate(["", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"]):
    if _u:
        _ES["veinti" + _w] = (20 + _u, "d")
_ES["veintiun"] = (21, "d")
_RU = {
    "ноль": (0, "u"), "нуль": (0, "u"), "один": (1, "u"), "одна": (1, "u"), "одно": (1, "u"), "два": (2, "u"),
    "две": (2, "u"), "три": (3, "u"), "четыре": (4, "u"), "пять": (5, "u"), "шесть": (6, "u"), "семь": (7, "u"),
    "восемь": (8, "u"), "девять": (9, "u"), "десять": (10, "t"), "одиннадцать": (11, "t"),
    "двенадцать": (12, "t"), "тринадцать": (13, "t"), "четырнадцать": (14, "t"), "пятнадцать": (15, "t"),
    "шестнадцать": (16, "t"), "семнадцать": (17, "t"), "восемнадцать": (18, "t"), "девятнадцать": (19, "t"),
    "двадцать": (20, "d"), "тридцать": (30, "d"), "сорок": (40, "d"), "пятьдесят": (50, "d"),
    "шестьдесят": (60, "d"), "семьдесят": (70, "d"), "восемьдесят": (80, "d"), "девяносто": (90, "d"),
    "сто": (100, "h"), "двести": (200, "h"), "триста": (300, "h"), "четыреста": (400, "h"),
    "пятьсот": (500, "h"), "шестьсот": (600, "h"), "семьсот": (700, "h"), "восемьсот": (800, "h"),
    "девятьсот": (900, "h"), "тысяча": (1000, "k"), "тысячи": (1000, "k"), "тысяч": (1000, "k"),
    "миллион": (10**6, "m"), "миллиона": (10**6, "m"), "миллионов": (10**6, "m"),
}
# Italian writes numbers as one word ("trecentoquarantadue"): split into these morphemes
_IT_MORPHEMES = {
    "zero": (0, "u"), "uno": (1, "u"), "una": (1, "u"), "un": (1, "u"), "due": (2, "u"), "tre": (3, "u"),
    "quattro": (4, "u"), "cinque": (5, "u"), "sei": (6, "u"), "sette": (7, "u"), "otto": (8, "u"),
    "nove": (9, "u"), "dieci": (10, "t"), "undici": (11, "t"), "dodici": (12, "t"), "tredici": (13, "t"),
    "quattordici": (14, "t"), "quindici": (15, "t"), "sedici": (16, "t"), "diciassette": (17, "t"),
    "diciotto": (18, "t"), "diciannove": (19, "t"), "venti": (20, "d"), "vent": (20, "d"), "trenta": (30, "d"),
    "trent": (30, "d"), "quaranta": (40, "d"), "quarant": (40, "d"), "cinquanta": (50, "d"),
    "cinquant": (50, "d"), "sessanta": (60, "d"), "sessant": (60, "d"), "settanta": (70, "d"),
    "settant": (70, "d"), "ottanta": (80, "d"), "ottant": (80, "d"), "novanta": (90, "d"), "novant": (90, "d"),
    "cento": (100, "H"), "cent": (100, "H"), "mille": (1000, "k"), "mila": (1000, "k"),
    "milione": (10**6, "m"), "milioni": (10**6, "m"), "e": (0, "c"),
}
CARDINALS = {"en": _EN, "fr": _FR, "es": _ES, "ru": _RU, "it": _IT_MORPHEMES}

# ordinal word -> value, and how each language writes an ordinal
_ORD_EN = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
           "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
           "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
           "twentieth": 20, "thirtieth": 30}
_ORD_FR = {"premier": 1, "premiere": 1, "deuxieme": 2, "second": 2, "troisieme": 3, "quatrieme": 4,
           "cinquieme": 5, "sixieme": 6, "septieme": 7, "huitieme": 8, "neuvieme": 9, "dixieme": 10,
           "onzieme": 11, "douzieme": 12, "treizieme": 13, "quatorzieme": 14, "quinzieme": 15, "seizieme": 16,
           "vingtieme": 20, "trentieme": 30}
_ORD_ES = {"primero": 1, "primera": 1, "primer": 1, "segundo": 2, "segunda": 2, "tercero": 3, "tercera": 3,
           "tercer": 3, "cuarto": 4, "cuarta": 4, "quinto": 5, "quinta": 5, "sexto": 6, "sexta": 6,
           "septimo": 7, "septima": 7, "octavo": 8, "octava": 8, "noveno": 9, "novena": 9, "decimo": 10,
           "decima": 10}
_ORD_IT = {"primo": 1, "prima": 1, "secondo": 2, "seconda": 2, "terzo": 3, "terza": 3, "quarto": 4,
           "quarta": 4, "quinto": 5, "quinta": 5, "sesto": 6, "sesta": 6, "settimo": 7, "settima": 7,
           "ottavo": 8, "ottava": 8, "nono": 9, "nona": 9, "decimo": 10, "decima": 10}
_ORD_RU = {}
for _stem, _v in [("перв", 1), ("втор", 2), ("трет", 3), ("четверт", 4), ("пят", 5), ("шест", 6), ("седьм", 7),
                  ("восьм", 8), ("девят", 9), ("десят", 10), ("одиннадцат", 11), ("двенадцат", 12),
                  ("тринадцат", 13), ("четырнадцат", 14), ("пятнадцат", 15), ("шестнадцат", 16),
                  ("семнадцат", 17), ("восемнадцат", 18), ("девятнадцат", 19), ("двадцат", 20), ("тридцат", 30)]:
    for _end in (("ий", "ье", "ья", "ьего", "ьему") if _v == 3 else ("ый", "ой", "ое", "ая", "ого", "ому")):
        _ORD_RU[fold(_stem + _end)] = _v
ORDINALS = {"en": _ORD_EN, "fr": _ORD_FR, "es": _ORD_ES, "it": _ORD_IT, "ru": _ORD_RU}

# month names (folded), January first; Russian in the genitive of dates and the nominative
MONTHS = {
    "en": ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"],
    "fr": ["janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout", "septembre", "octobre",
           "novembre", "decembre"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"],
    "it": ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre",
           "ottobre", "novembre", "dicembre"],
    "ru": ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
           "ноября", "декабря"],
}
_MONTH_INDEX = {lang: {name: i + 1 for i, name in enumerate(names)} for lang, names in MONTHS.items()}
_MONTH_INDEX["es"]["setiembre"] = 9
_MONTH_INDEX["ru"].update({fold(n): i + 1 for i, n in enumerate(
    ["январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь", "ноябрь",
     "декабрь"])})


def month_number(key: str, lang: str) -> int | None:
    """1-12 for a (folded) month name in ``lang``, else None."""
    return _MONTH_INDEX.get(lang, {}).get(key)


def ordinal_suffix(value: int, lang: str, word: str = "") -> str:
    if lang == "en":
        if 10 <= value % 100 <= 20:
            return "th"
        return {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
    if lang == "fr":
        return "er" if value == 1 else "e"
    if lang == "ru":
        return "-" + (word[-1:] if word[-1:] in ("е", "я", "й", "о") else "й")
    return "º"


_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)?|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class Token:
    text: str  # as written
    key: str  # folded, for lookups
    start: int  # character span in the source text
    end: int


@dataclass(frozen=True)
class Number:
    """A run of tokens read as one number (or as a digit string)."""

    value: int
    digits: str  # as written: "0042" keeps leading zeros of a digit-by-digit reading
    start: int  # token indices [start, end)
    end: int
    ordinal: bool = False
    spelled: bool = True  # from words (False: Whisper wrote digits)
    run: bool = False  # digits joined one by one ("huit, sept, six"), never a spelled whole number


_DIGIT_LIST = re.compile(r"\d+(?:[.,]\d+){2,}")  # "4,7,9,4", "0.0.6.7": digits Whisper wrote joined
_THOUSANDS = re.compile(r"\d{1,3}(?:[.,]\d{3})+")  # "1,234,567" stays one number


def tokenize(text: str) -> list[Token]:
    out = []
    for m in _WORD.finditer(text):
        word = m.group()
        if _DIGIT_LIST.fullmatch(word) and not _THOUSANDS.fullmatch(word):
            for piece in re.finditer(r"\d+|[.,]", word):  # each group and separator a token
                s, e = m.start() + piece.start(), m.start() + piece.end()
                out.append(Token(text[s:e], text[s:e], s, e))
            continue
        # hyphenated compounds split ("quatre-vingt-dix", "dix-sept", "twenty-one")
        for piece in re.finditer(r"[^-]+", word) if "-" in word else [re.match(r".+", word)]:
            s, e = m.start() + piece.start(), m.start() + piece.end()
            out.append(Token(text[s:e], fold(text[s:e]).replace("’", "'"), s, e))
    return out


def _split_italian(key: str) -> list[tuple[int, str]] | None:
    """An Italian number word as morphemes ("quarantadue" -> 40 d, 2 u), or None."""
    key = key.replace("'", "")
    out: list[tuple[int, str]] = []
    i = 0
    names = sorted(_IT_MORPHEMES, key=len, reverse=True)
    while i < len(key):
        for name in names:
            if key.startswith(name, i) and name != "e":
                out.append(_IT_MORPHEMES[name])
                i += len(name)
                break
        else:
            return None
    return out


def _lexicon(lang: str, token: Token) -> list[tuple[int, str]] | None:
    """The number morphemes of one token in ``lang`` (None: not a number word)."""
    key = token.key
    if lang == "it":
        if key == "e":
            return [(0, "c")]
        return _split_italian(key)
    entry = CARDINALS.get(lang, {}).get(key)
    return [entry] if entry else None


class _Acc:
    """Accumulates morphemes of one cardinal: total (thousands and above) + current group."""

    def __init__(self):
        self.total = 0
        self.group = 0
        self.last = ""  # kind of the previous morpheme
        self.small = -1  # the group's value below 100 so far (-1: none)

    def can_take(self, value: int, kind: str) -> bool:
        last = self.last
        if not last:
            return kind != "c"
        if kind == "c":
            return last in "dhHk"
        if kind == "u":
            if last == "t" and self.small in (10, 70, 90) and 7 <= value <= 9:  # dix-sept, soixante-dix-huit
                return True
            return last in "dhHkc" and (last != "d" or self.group % 10 == 0) and not (last == "c" and self.small > 0 and self.small % 10)
        if kind == "t":
            return last in "hHkc" or (last == "d" and self.group % 100 in (60, 80))  # soixante-dix, quatre-vingt-douze
        if kind == "d":
            if last == "u" and value == 20 and self.group % 100 == 4:  # quatre-vingt(s)
                return True
            return last in "hHkc" and self.group % 100 == 0
        if kind == "h":
            return last in "k" or (not last)
        if kind == "H":
            return last in "ut" and self.group < 100
        if kind in "km":
            return last in "utdhH" or (last == "c")
        return False

    def take(self, value: int, kind: str) -> None:
        if kind == "c":
            pass
        elif kind in "ut":
            self.group += value
        elif kind == "d":
            if self.last == "u" and value == 20 and self.group % 100 == 4:
                self.group += 76  # 4 -> 80
            else:
                self.group += value
        elif kind == "h":
            self.group += value
        elif kind == "H":
            self.group = max(self.group, 1) * 100
        elif kind in "km":
            self.total += max(self.group, 1) * value
            self.group = 0
        self.last = kind
        self.small = self.group % 100

    @property
    def value(self) -> int:
        return self.total + self.group


def parse_numbers(tokens: list[Token], lang: str) -> list[Number]:
    """Every number in ``tokens``: spelled cardinals, ordinals, written digits; runs of
    single spelled digits ("three two one") become one digit string."""
    raw: list[Number] = []
    i = 0
    ords = ORDINALS.get(lang, {})
    while i < len(tokens):
        tok = tokens[i]
        if tok.key[:1].isdigit():
            digits = tok.text.replace(",", "").replace(".", "") if re.fullmatch(r"\d{1,3}([.,]\d{3})+", tok.text) else tok.text
            if digits.isdigit():
                raw.append(Number(int(digits), digits, i, i + 1, spelled=False))
            i += 1
            continue
        if tok.key in ords:
            raw.append(Number(ords[tok.key], str(ords[tok.key]), i, i + 1, ordinal=True))
            i += 1
            continue
        repeated = _repeated_digit(tokens, i, lang)
        if repeated is not None:
            raw.append(repeated)
            i = repeated.end
            continue
        acc = _Acc()
        j = i
        morphs_end = i
        while j < len(tokens):
            morphs = _lexicon(lang, tokens[j])
            if morphs is None:
                # "twenty first", "vingt et unième"... an ordinal closing a spelled number
                if acc.last == "d" and tokens[j].key in ords and ords[tokens[j].key] < 10:
                    acc.take(ords[tokens[j].key], "u")
                    j += 1
                    morphs_end = j
                    raw.append(Number(acc.value, str(acc.value), i, j, ordinal=True))
                    acc = None
                break
            if not all(acc.can_take(v, k) for v, k in morphs[:1]):
                break
            trial_ok = True
            for v, k in morphs:
                if not acc.can_take(v, k):
                    trial_ok = False
                    break
                acc.take(v, k)
            if not trial_ok:
                break
            j += 1
            if acc.last != "c":
                morphs_end = j
        if acc is None:
            i = morphs_end
            continue
        if morphs_end > i:
            raw.append(Number(acc.value, str(acc.value), i, morphs_end))
            i = morphs_end
        else:
            i += 1
    return _join_digit_runs(raw, tokens)


# per language: the words that repeat the digit after them ("double five" = 55, "triple oh" =
# 000), and the words after which they are ordinary words ("a double one" is not 11)
_REPEATS = {"en": ({"double": 2, "triple": 3}, frozenset({"a", "an", "the"}))}


def _repeated_digit(tokens: list[Token], i: int, lang: str) -> Number | None:
    """"double five" / "triple 7" at ``tokens[i]``: the digit written that many times, a run
    of digits said one by one (None when no single digit follows: "a double room")."""
    repeats, articles = _REPEATS.get(lang, ({}, frozenset()))
    times = repeats.get(tokens[i].key)
    if times is None or i + 1 >= len(tokens) or (i > 0 and tokens[i - 1].key in articles):
        return None
    nxt = tokens[i + 1]
    if nxt.key.isdigit() and len(nxt.key) == 1:
        digit, spelled = nxt.key, False
    else:
        morphs = _lexicon(lang, nxt)
        if not morphs or len(morphs) != 1 or morphs[0][1] != "u" or not 0 <= morphs[0][0] <= 9:
            return None
        digit, spelled = str(morphs[0][0]), True
    digits = digit * times
    return Number(int(digits), digits, i, i + 2, spelled=spelled, run=True)


def _separator_only(tokens: list[Token], a: int, b: int) -> bool:
    return all(t.key in {",", ".", "-", ":"} for t in tokens[a:b])


_CONJ = {"and", "et", "y", "e", "и"}


def _join_digit_runs(numbers: list[Number], tokens: list[Token]) -> list[Number]:
    """Adjacent single digits (spelled "three two" or written "3, 2") -> one digit string;
    a written group that continues one ("32 15") joins it too. Tens then a unit, written
    apart ("80 y 5", "50, 6", "90-1", "тридцать, два"), are one number first."""
    summed: list[Number] = []
    for n in numbers:
        prev = summed[-1] if summed else None
        if (prev is not None and not prev.ordinal and prev.value in range(20, 100, 10) and 1 <= n.value <= 9
                and len(n.digits) == 1 and all(t.key in {",", "-"} | _CONJ for t in tokens[prev.end:n.start])
                and (n.spelled or not prev.spelled or n.start > prev.end)):
            value = prev.value + n.value
            summed[-1] = Number(value, str(value), prev.start, n.end, ordinal=n.ordinal, spelled=prev.spelled)
            continue
        summed.append(n)
    out: list[Number] = []
    for n in summed:
        prev = out[-1] if out else None
        if (prev is not None and not prev.ordinal and not n.ordinal and _separator_only(tokens, prev.end, n.start)
                and _is_digit_piece(prev) and _is_digit_piece(n)
                and (len(prev.digits) == 1 or len(n.digits) == 1 or (prev.run and n.run)
                     or (not prev.spelled and not n.spelled and prev.end == n.start))):
            digits = prev.digits + n.digits
            out[-1] = Number(int(digits), digits, prev.start, n.end, spelled=prev.spelled and n.spelled, run=True)
            continue
        out.append(n)
    return out


def _is_digit_piece(n: Number) -> bool:
    """Single digits and written digit groups join; a spelled 42 ("forty two") stays apart
    from a following digit only when it is itself a whole number ("forty two five" -> 425); a
    run of digits said one by one goes on however long it is ("four three four five six seven")."""
    return len(n.digits) <= 4 or not n.spelled or n.run


def _convert_alone(n: Number, tokens: list[Token], lang: str) -> bool:
    """Is a one-word number written as digits? Not a lone unit ("un café", "no one") nor a
    small ordinal ("the first time"), unless it stands next to a month name (a date)."""
    near_month = any(month_number(tokens[j].key, lang) for j in (n.start - 1, n.end, n.end + 1)
                     if 0 <= j < len(tokens))
    if near_month:
        return True
    return n.value >= 10 and (not n.ordinal or n.value >= 11)


def normalize(text: str, lang: str | None) -> str:
    """``text`` with spoken numbers written as digits (``lang`` a base code; others: unchanged)."""
    lang = (lang or "").split("-")[0].lower()
    if lang not in LANGUAGES or not text:
        return text
    tokens = tokenize(text)
    numbers = parse_numbers(tokens, lang)
    if not numbers:
        return text
    pieces = []
    pos = 0
    for n in numbers:
        s, e = tokens[n.start].start, tokens[n.end - 1].end
        if not n.spelled and n.end - n.start == 1:
            continue  # a written number stays as written
        if n.spelled and n.end - n.start == 1 and not _convert_alone(n, tokens, lang):
            continue
        pieces.append(text[pos:s])
        pieces.append(n.digits + (ordinal_suffix(n.value, lang, tokens[n.end - 1].key) if n.ordinal else ""))
        pos = e
    pieces.append(text[pos:])
    out = "".join(pieces)
    return re.sub(r"\s+([,.!?])", r"\1", out).strip()
