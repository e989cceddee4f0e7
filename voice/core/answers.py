"""Expected answers: what an IVR prompt asked for, the words such an answer is made of, and the
normalised value read from a transcript. Pure logic, no I/O.

An answer kind (:class:`Expect`) narrows the next utterance: ``digits`` (a digit string),
``number`` (one integer, maybe negative or decimal), ``amount`` (a number and a currency),
``date`` (ISO ``YYYY-MM-DD``, or ``--MM-DD`` when no year was said), ``time`` (``HH:MM``),
``yes_no`` (``true``/``false``), ``spelling`` (letters and digits, upper case) and ``free``
(no grammar). :func:`vocabulary` lists the words (and characters) an answer may contain in a
language: the recogniser turns it into the token set it lets Whisper emit (constrained
decoding: numbers only as digits, so Whisper writes "3, 2" or "39" instead of mishearing
"trois deux" or "trente-neuf" as other words; the words are the answer's own: month names,
currencies, o'clock words, yes and no). A digit string is decoded in digit words first
(:func:`spoken_vocabulary`, :func:`complete_reading`). :func:`parse` still reads spelled numbers. :func:`parse` reads the value from the final's text, or returns None when the
text does not fit the grammar.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from .itn import CARDINALS, MONTHS, ORDINALS, Token, fold, month_number, parse_numbers, tokenize


class Expect(str, enum.Enum):
    FREE = "free"
    DIGITS = "digits"
    NUMBER = "number"
    AMOUNT = "amount"
    DATE = "date"
    TIME = "time"
    YES_NO = "yes_no"
    SPELLING = "spelling"


@dataclass(frozen=True)
class Answer:
    kind: Expect
    value: str  # normalised value ("" when the transcript did not fit)


def parse_expect(value: str) -> Expect:
    """``"digits"`` -> :attr:`Expect.DIGITS`; "" -> FREE; raises ValueError otherwise."""
    return Expect(value.strip().lower() or "free")


YES = {
    "en": ["yes", "yeah", "yep", "yup", "correct", "right", "sure", "okay", "ok", "affirmative", "true", "absolutely"],
    "fr": ["oui", "ouais", "exact", "exactement", "correct", "d'accord", "daccord", "bien", "sur", "ok", "okay", "si"],
    "es": ["si", "sí", "claro", "correcto", "vale", "exacto", "bueno", "ok", "okay", "afirmativo", "cierto"],
    "it": ["si", "sì", "certo", "esatto", "corretto", "giusto", "va", "bene", "ok", "okay", "d'accordo", "daccordo"],
    "ru": ["да", "верно", "конечно", "правильно", "ага", "угу", "хорошо", "ладно", "точно"],
}
NO = {
    "en": ["no", "nope", "nah", "not", "incorrect", "wrong", "negative", "false"],
    "fr": ["non", "pas", "incorrect", "faux", "nan"],
    "es": ["no", "incorrecto", "negativo", "falso"],
    "it": ["no", "non", "sbagliato", "falso", "negativo"],
    "ru": ["нет", "не", "неверно", "неправильно", "никак"],
}
CURRENCIES = {
    "USD": {"dollar", "dollars", "dolar", "dolares", "dollaro", "dollari", "доллар", "доллара", "долларов", "$",
            "usd", "buck", "bucks"},
    "EUR": {"euro", "euros", "евро", "€", "eur"},
    "GBP": {"pound", "pounds", "livre", "livres", "libra", "libras", "sterlina", "sterline", "фунт", "фунта",
            "фунтов", "£", "gbp"},
    "RUB": {"ruble", "rubles", "rouble", "roubles", "rublo", "rublos", "рубль", "рубля", "рублей", "₽", "rub"},
}
SUBUNITS = {"cent", "cents", "centime", "centimes", "centavo", "centavos", "centesimo", "centesimi", "копейка",
            "копейки", "копеек", "penny", "pence"}
CURRENCY_OF = {fold(w): code for code, words in CURRENCIES.items() for w in words}
_SYMBOLS = {"$", "€", "£", "₽"}
_AND = {"and", "et", "y", "e", "и", "con", "with"}
_MINUS = {"minus", "moins", "menos", "meno", "минус"}
_POINT = {"point", "virgule", "coma", "punto", "virgola", "запятая", "точка"}
_OCLOCK = {"o'clock", "oclock", "clock", "heure", "heures", "h", "hora", "horas", "punto", "ore", "ora", "час",
           "часа", "часов"}
_HALF = {"half", "demie", "demi", "media", "mezza", "mezzo", "половина"}
_QUARTER = {"quarter", "quart", "cuarto", "quarto"}
_AM = {"am", "a.m", "a.m."}
_PM = {"pm", "p.m", "p.m.", "evening", "afternoon", "soir", "tarde", "noche", "sera", "pomeriggio", "вечера", "дня"}
_MORNING = {"morning", "matin", "manana", "mattina", "утра"}
_FILLERS = {"the", "of", "le", "la", "les", "du", "de", "del", "el", "il", "lo", "di", "a", "at", "alle", "las",
            "los", "en", "in", "у", "в", "is", "it's", "its", "c'est", "es", "e", "è", "это", "my", "mon", "mi",
            "mio", "number", "numero", "номер", "um", "uh", "euh", "eh", "ehm", "hmm", "ну", "so", "well", "alors",
            "pues", "allora", "minutes", "minute", "minutos", "minuti", "минут", "минуты", "past", "after", "to",
            "and", "et", "y", "и", "un", "una", "one"}
_LETTER_NAMES_EN = {"a": "A", "bee": "B", "be": "B", "cee": "C", "see": "C", "sea": "C", "dee": "D", "ee": "E",
                    "ef": "F", "eff": "F", "gee": "G", "aitch": "H", "eye": "I", "jay": "J", "kay": "K", "el": "L",
                    "ell": "L", "em": "M", "en": "N", "oh": "O", "pee": "P", "cue": "Q", "queue": "Q", "ar": "R",
                    "are": "R", "es": "S", "ess": "S", "tee": "T", "tea": "T", "you": "U", "vee": "V",
                    "double-u": "W", "ex": "X", "why": "Y", "zed": "Z", "zee": "Z"}


def vocabulary(kind: Expect, lang: str) -> frozenset[str] | None:
    """Words (folded) an answer of ``kind`` may hold in ``lang``, plus single characters that
    may stand alone (digits, punctuation, symbols); None for FREE (anything goes)."""
    if kind == Expect.FREE:
        return None
    punct = {",", ".", "-", "?", "!", ":", "/"}
    digits = set("0123456789")
    words: set[str] = set(punct) | digits
    if kind == Expect.DIGITS:
        # Whisper writes the digits themselves: no words at all, and only the separators a
        # digit string is written with (on 8 kHz French and Russian digits a free "-", "!"
        # or "?" let beam search settle on "- - - -": bench/phone.py)
        words -= punct - {",", "."}
    elif kind == Expect.NUMBER:
        words |= _MINUS | _AND  # "50 y 5" is 55
    elif kind == Expect.AMOUNT:
        words |= set(CURRENCY_OF) | SUBUNITS | _AND
    elif kind == Expect.DATE:
        words |= set(ORDINALS.get(lang, {})) | set(MONTHS.get(lang, [])) | {"the", "of", "de", "le", "del", "il"}
        words |= {"st", "nd", "rd", "th", "er", "e", "º"}
    elif kind == Expect.TIME:
        words |= _OCLOCK | _HALF | _QUARTER | _AM | _PM | _MORNING | _AND | {
            "at", "a", "las", "la", "alle", "à", "в", "past", "to", "minutes", "y", "e", "et", "moins", "meno",
            "menos"}
    elif kind == Expect.YES_NO:
        words |= {fold(w) for w in YES.get(lang, []) + NO.get(lang, [])} | {"no", "si", "yes", "ok"}
    elif kind == Expect.SPELLING:
        words |= set("abcdefghijklmnopqrstuvwxyz") | set("абвгдежзийклмнопрстуфхцчшщъыьэюя")
        words |= {w for w, (v, k) in CARDINALS.get(lang, {}).items() if k == "u"}
        if lang == "en":
            words |= set(_LETTER_NAMES_EN)
    return frozenset(fold(w) for w in words)


def parse(kind: Expect, text: str, lang: str | None) -> Answer | None:
    """The normalised answer in ``text`` (None for FREE); ``value`` "" when it does not fit."""
    if kind == Expect.FREE:
        return None
    lang = (lang or "en").split("-")[0].lower()
    tokens = tokenize(text)
    fn = _PARSERS[kind]
    value = fn(tokens, lang) if tokens else None
    return Answer(kind, value or "")


LENGTHED = frozenset({Expect.DIGITS, Expect.SPELLING})  # answers an expected length applies to
MAX_LENGTH = 64


def check_length(kind: Expect, length: tuple[int, int]) -> None:
    """Raise ValueError unless ``length`` ((min, max) characters of the value, 0 = no bound) is
    one ``kind`` can take: digits and spelling only, 0 <= min <= max <= 64 (max 0: no upper bound)."""
    low, high = length
    if (low, high) == (0, 0):
        return
    if kind not in LENGTHED:
        raise ValueError(f"applies to digits and spelling answers only, not {kind.value!r}")
    if not 0 <= low <= MAX_LENGTH or not 0 <= high <= MAX_LENGTH or (high and low > high):
        raise ValueError(f"must be 0 <= min <= max <= {MAX_LENGTH} (0: no bound), got min {low}, max {high}")


def fits_length(value: str, length: tuple[int, int]) -> bool:
    """Has an answer's ``value`` as many characters as ``length`` ((min, max), 0 = no bound) allows?"""
    low, high = length
    return bool(value) and len(value) >= low and (not high or len(value) <= high)


def pick_reading(kind: Expect, readings: list[str], lang: str | None, length: tuple[int, int]) -> int:
    """Index of the reading to report: the first (best) one whose answer has the expected
    length, else 0 (n-best rescoring against the length an IVR prompt asked for: "your
    6-digit PIN"; VoiceXML's ``digits?length=6``)."""
    if length == (0, 0) or kind not in LENGTHED:
        return 0
    for i, text in enumerate(readings):
        answer = parse(kind, text, lang)
        if answer is not None and fits_length(answer.value, length):
            return i
    return 0


# The ten digits as Whisper writes them in words. A digits final is decoded in these words
# first (:func:`spoken_vocabulary`): written as numerals, Whisper base's counting prior turns a
# French 1766 into "1, 2, 3, 6" and 98309335 into "1, 2, 3, 0, 1, 2, 3, 4, 5"; said as words it
# reads them right (40 8 kHz digit strings a language, offline: fr 34 -> 36, es 39 -> 40, en, it
# and ru unchanged: docs/telephony.md)
DIGIT_WORDS = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "fr": ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
    "es": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
    "it": ("zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"),
    "ru": ("ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"),
}


_OTHER_DIGIT_WORDS = {"en": ("oh", "double", "triple")}  # "five oh two", "double five" (voice.core.itn)


def spoken_vocabulary(lang: str) -> frozenset[str] | None:
    """What a digit string decoded as words may hold in ``lang``: the ten digit words (as
    written, accents kept, and other words of digits: English "oh", "double") and the separators ","
    and "."; None for a language without them."""
    lang = (lang or "").split("-")[0].lower()
    words = DIGIT_WORDS.get(lang)
    return frozenset(words) | set(_OTHER_DIGIT_WORDS.get(lang, ())) | {",", "."} if words else None


def complete_reading(readings: list[str], lang: str | None, length: tuple[int, int] = (0, 0)) -> int | None:
    """Index of the first (best) reading that is a digit string and nothing else, of the
    expected ``length`` when one is given, or None when no reading is (a constrained search
    can still spell a word that is not a digit: "un, z, six, six")."""
    for i, text in enumerate(readings):
        answer = parse(Expect.DIGITS, text, lang)
        if answer is not None and answer.value and (length == (0, 0) or fits_length(answer.value, length)):
            return i
    return None


def _content(tokens: list[Token], used: set[int], allowed: set[str] = frozenset()) -> bool:
    """Do any tokens outside ``used`` carry content (not punctuation, fillers, ``allowed``)?"""
    for i, t in enumerate(tokens):
        if i in used or not t.key[:1].isalnum() or t.key in _FILLERS or t.key in allowed:
            continue
        return True
    return False


def _digits(tokens: list[Token], lang: str) -> str | None:
    numbers = parse_numbers(tokens, lang)
    out = []
    used: set[int] = set()
    for n in numbers:
        used |= set(range(n.start, n.end))
        out.append(n.digits)  # "double five" is 55 already (voice.core.itn)
    if not out or _content(tokens, used):
        return None
    return "".join(out)


_DECIMAL = re.compile(r"(\d+)[.,](\d{1,2})")


def _written_decimal(tokens: list[Token]) -> tuple[int, str] | None:
    """(index, "3.5") of a decimal Whisper wrote ("3.5", "42,50"), if any."""
    for i, t in enumerate(tokens):
        m = _DECIMAL.fullmatch(t.text)
        if m:
            return i, f"{m.group(1)}.{m.group(2)}"
    return None


def _number(tokens: list[Token], lang: str) -> str | None:
    dec = _written_decimal(tokens)
    if dec is not None:
        negative = any(t.key in _MINUS or t.text == "-" for t in tokens[: dec[0]])
        if _content(tokens, {dec[0]} | {i for i, t in enumerate(tokens) if t.key in _MINUS}):
            return None
        return ("-" if negative else "") + dec[1]
    numbers = [n for n in parse_numbers(tokens, lang) if not n.ordinal]
    if not numbers:
        return None
    used = set(range(numbers[0].start, numbers[-1].end))
    negative = any(t.key in _MINUS for t in tokens[: numbers[0].start]) or text_has_minus(tokens, numbers[0].start)
    value = numbers[0].digits
    if len(numbers) == 2 and any(t.key in _POINT or t.key in {",", "."} for t in tokens[numbers[0].end:numbers[1].start]):
        value = f"{numbers[0].value}.{numbers[1].digits}"
    elif len(numbers) > 1:
        return None
    else:
        value = str(numbers[0].value) if numbers[0].spelled else value.lstrip("0") or "0"
    minus_idx = {i for i, t in enumerate(tokens) if t.key in _MINUS or t.key in _POINT}
    if _content(tokens, used | minus_idx):
        return None
    return ("-" if negative else "") + value


def text_has_minus(tokens: list[Token], before: int) -> bool:
    return before > 0 and tokens[before - 1].text == "-"


def _amount(tokens: list[Token], lang: str) -> str | None:
    code = next((CURRENCY_OF[t.text] for t in tokens if t.text in _SYMBOLS), None)
    tokens = [t for t in tokens if t.text not in _SYMBOLS]  # "$60, $2" reads as "60, 2"
    used: set[int] = set()
    for i, t in enumerate(tokens):
        c = CURRENCY_OF.get(t.key) or CURRENCY_OF.get(t.text)
        if c:
            code = code or c
            used.add(i)
    dec = _written_decimal(tokens)
    if dec is not None and dec[1].endswith(".00") and sum(1 for t in tokens if t.key[:1].isdigit()) > 1:
        # "$60, $2.00": Whisper wrote tens and unit said apart as two amounts
        tokens = [Token(t.text[:-3], t.key[:-3], t.start, t.end) if i == dec[0] else t for i, t in enumerate(tokens)]
        dec = None
    if dec is not None:
        if _content(tokens, used | {dec[0]}):
            return None
        return f"{dec[1]} {code}" if code else dec[1]
    numbers = [n for n in parse_numbers(tokens, lang) if not n.ordinal]
    if not numbers:
        return None
    main = numbers[0]
    cents = None
    for n in numbers[1:]:
        between = tokens[main.end:n.start]
        if any(t.text in {".", ","} or t.key in _POINT for t in between) and not n.spelled and len(n.digits) == 2:
            cents = n.digits
        elif any(CURRENCY_OF.get(t.key) or t.key in _AND for t in between) or any(
                t.key in SUBUNITS for t in tokens[n.end:n.end + 1]):
            cents = f"{n.value:02d}" if n.value < 100 else None
        else:
            return None
    for n in numbers:
        used |= set(range(n.start, n.end))
    used |= {i for i, t in enumerate(tokens) if t.key in SUBUNITS or t.key in _AND or t.key in _POINT}
    if _content(tokens, used):
        return None
    value = f"{main.value}.{cents}" if cents else str(main.value)
    return f"{value} {code}" if code else value


def _date(tokens: list[Token], lang: str) -> str | None:
    month = None
    used: set[int] = set()
    for i, t in enumerate(tokens):
        m = month_number(t.key, lang) or month_number(t.key, "en")
        if m:
            month = month or m
            used.add(i)
    numbers = parse_numbers(tokens, lang)
    day = year = None
    for n in numbers:
        if day is None and 1 <= n.value <= 31 and (n.ordinal or len(n.digits) <= 2):
            day = n.value
        elif year is None and 1900 <= n.value <= 2100:
            year = n.value
        elif month is None and 1 <= n.value <= 12 and day is not None:
            month = n.value
        elif n.value == month and not n.ordinal:
            pass  # "24, 10, octubre": the month said (or heard) twice
        else:
            return None
        used |= set(range(n.start, n.end))
    used |= {i for i, t in enumerate(tokens) if t.key in {"st", "nd", "rd", "th", "er", "e"}}
    if month is None or day is None or _content(tokens, used):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"


def _time(tokens: list[Token], lang: str) -> str | None:
    numbers = [n for n in parse_numbers(tokens, lang) if not n.ordinal]
    keys = {t.key for t in tokens}
    written = [t for t in tokens if re.fullmatch(r"\d{1,2}:\d{2}", t.text)]
    if written:
        h, m = written[0].text.split(":")
        hour, minute = int(h), int(m)
    elif not numbers:
        return None
    else:
        hour = numbers[0].value
        minute = 0
        if len(numbers) > 1:
            minute = numbers[1].value
        elif numbers[0].spelled is False and len(numbers[0].digits) in (3, 4):
            hour, minute = divmod(numbers[0].value, 100)
        if keys & _HALF:
            minute = 30
        elif keys & _QUARTER:
            minute = 15
        if keys & {"moins", "meno", "menos", "to"} and minute:
            hour, minute = hour - 1, 60 - minute
    folded = " ".join(t.key for t in tokens)
    if (keys & _PM or re.search(r"\bp \.? ?m\b", folded)) and hour < 12:
        hour += 12
    if hour > 23 or minute > 59:
        return None
    return f"{hour:02d}:{minute:02d}"


_ALL_YES = {fold(w) for words in YES.values() for w in words}
_ALL_NO = {fold(w) for words in NO.values() for w in words}


def _yes_no(tokens: list[Token], lang: str) -> str | None:
    """The answer words' majority decides (the first on a tie); the language's words first,
    then any language's (a French "non" is often written "No")."""
    for yes, no in (({fold(w) for w in YES.get(lang, [])}, {fold(w) for w in NO.get(lang, [])}), (_ALL_YES, _ALL_NO)):
        votes = [t.key in yes for t in tokens if t.key in yes or t.key in no]
        if votes:
            n_yes = sum(votes)
            if n_yes * 2 == len(votes):
                return "true" if votes[0] else "false"
            return "true" if n_yes * 2 > len(votes) else "false"
    return None


# how much likelier (natural log) one side must be for :func:`choose_yes_no` to decide
YES_NO_MARGIN = 1.0


def choose_yes_no(logprob_yes: float, logprob_no: float, margin: float = YES_NO_MARGIN) -> bool | None:
    """Yes (True) or no (False) from the log probabilities of the two sides of a yes/no
    grammar (e.g. of the answer words' first tokens: :mod:`voice.engines.yes_no`); None
    when neither is ``margin`` likelier than the other."""
    if logprob_yes >= logprob_no + margin:
        return True
    if logprob_no >= logprob_yes + margin:
        return False
    return None


def _spelling(tokens: list[Token], lang: str) -> str | None:
    out = []
    units = {w: v for w, (v, k) in CARDINALS.get(lang, {}).items() if k == "u"}
    for t in tokens:
        key = t.key
        if not key[:1].isalnum():
            continue
        if key.isdigit():
            out.append(key)
        elif len(key) == 1:
            out.append(t.text.upper())
        elif lang == "en" and key in _LETTER_NAMES_EN:
            out.append(_LETTER_NAMES_EN[key])
        elif key in units:
            out.append(str(units[key]))
        elif key.isalpha() and key.upper() == t.text and len(key) <= 4:  # "ABC" written as one word
            out.append(t.text)
        else:
            return None
    return "".join(out) or None


_PARSERS = {Expect.DIGITS: _digits, Expect.NUMBER: _number, Expect.AMOUNT: _amount, Expect.DATE: _date,
            Expect.TIME: _time, Expect.YES_NO: _yes_no, Expect.SPELLING: _spelling}
