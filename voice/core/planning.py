"""TTS text planning, no models and no I/O: text or SSML -> short pieces to synthesize.

:func:`plan_pieces` plans a whole text: the first piece is a short clause (first audio
fast), the rest are sentences; each piece knows the silence after it.
:class:`SentencePlanner` does the same for text that arrives in pieces (an LLM's tokens):
``add(text)`` returns the pieces that became complete, ``finish()`` the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import ssml as ssml_mod
from . import textnorm

DEFAULT_SENTENCE_SILENCE_S = 0.2
FIRST_PIECE_WORDS = 6  # the first piece (time to first audio) is at most about this long
PIECE_WORDS = 30  # later sentences longer than this are cut at clauses
CLAUSE_PAUSE_S = 0.08  # after a clause cut at a comma/semicolon inside a sentence


@dataclass(frozen=True)
class Piece:
    text: str  # what the voice reads ("" for pure silence)
    rate: float
    sentence_index: int
    sentence_text: str  # set on the first piece of each sentence, else ""
    pause_s: float  # silence after this piece
    sentence_end: bool


@dataclass
class _Run:
    text: str
    rate: float
    pause: float = 0.0


_CLOSED = re.compile(r"[.!?。！？…][\"'»”)\]]*$")


def plan_pieces(text: str, language: str = "en", *, is_ssml: bool = False, speaking_rate: float = 1.0,
                sentence_silence_s: float = DEFAULT_SENTENCE_SILENCE_S, first_words: int = FIRST_PIECE_WORDS,
                max_words: int = PIECE_WORDS, first_sentence_index: int = 0, short_first: bool = True,
                final: bool = True) -> list[Piece]:
    """Text or SSML -> pieces to synthesize in order. Raises :class:`ssml.SsmlError`.

    ``short_first``: the first piece is a short clause (fast first audio). ``final``: nothing
    follows this text, so no sentence pause after its last sentence. ``first_sentence_index``
    numbers the sentences of a text planned in parts (:class:`SentencePlanner`).
    """
    tokens = ssml_mod.parse(text, language) if is_ssml else [ssml_mod.Text(text)]
    sentences: list[tuple[list[_Run], float]] = []
    cur: list[_Run] = []
    lead = 0.0
    paragraph_s = sentence_silence_s + 0.3

    def add(t: str, rate: float):
        t = " ".join(t.split())
        if not t:
            return
        if cur and cur[-1].rate == rate and cur[-1].pause == 0:
            cur[-1].text = f"{cur[-1].text} {t}"
        else:
            cur.append(_Run(t, rate))

    def close(pause: float):
        nonlocal cur
        if cur:
            sentences.append((cur, pause))
            cur = []
        elif sentences:
            runs, old = sentences[-1]
            sentences[-1] = (runs, max(old, pause))

    for tok in tokens:
        if isinstance(tok, ssml_mod.Text):
            rate = tok.rate * speaking_rate
            if tok.verbatim:
                add(tok.text, rate)
                continue
            norm = textnorm.normalize(tok.text, language)
            parts = textnorm.split_sentences(norm)
            for i, part in enumerate(parts):
                add(part, rate)
                if i < len(parts) - 1 or _CLOSED.search(norm.strip()):
                    close(sentence_silence_s)
        elif isinstance(tok, ssml_mod.Break):
            if cur:
                cur[-1].pause += tok.seconds
            elif sentences:
                runs, old = sentences[-1]
                sentences[-1] = (runs, old + tok.seconds)
            else:
                lead += tok.seconds
        else:
            close(paragraph_s if tok.kind == "p" else sentence_silence_s)
    close(0.0)
    if sentences and final:  # nothing after the last sentence but what SSML asked for
        runs, pause = sentences[-1]
        sentences[-1] = (runs, 0.0 if pause in (sentence_silence_s, paragraph_s) else pause)

    pieces: list[Piece] = []
    if lead:
        pieces.append(Piece("", 1.0, 0, "", lead, False))
    for index, (runs, pause_after) in enumerate(sentences):
        sentence_text = " ".join(r.text for r in runs)
        flat: list[tuple[str, float, float]] = []
        for run in runs:
            if short_first and not pieces and not flat:
                clauses = textnorm.split_clauses(run.text, first_words, language)
                head, rest = clauses[0], " ".join(clauses[1:])
                chunks = [head] + (_limit(rest, max_words, language) if rest else [])
            else:
                chunks = _limit(run.text, max_words, language)
            for j, c in enumerate(chunks):
                last = j == len(chunks) - 1
                pause = run.pause if last else (CLAUSE_PAUSE_S if c[-1:] in ",;:" else 0.0)
                flat.append((c, run.rate, pause))
        for j, (c, rate, pause) in enumerate(flat):
            last = j == len(flat) - 1
            pieces.append(Piece(c, rate, first_sentence_index + index, sentence_text if j == 0 else "",
                                pause + (pause_after if last else 0.0), last))
    return pieces


def _limit(text: str, max_words: int, language: str) -> list[str]:
    return [text] if len(text.split()) <= max_words else textnorm.split_clauses(text, max_words, language)




class SentencePlanner:
    """Plans text that arrives in pieces (an LLM's output) as it arrives.

    :meth:`add` returns the pieces of every sentence completed so far and, before any audio
    has been planned, the first clause as soon as it is complete, so speech can start
    before the first sentence ends. :meth:`finish` plans what is left. The pieces are those
    :func:`plan_pieces` would make of each part (plain text only, not SSML).
    """

    def __init__(self, language: str = "en", *, speaking_rate: float = 1.0,
                 sentence_silence_s: float = DEFAULT_SENTENCE_SILENCE_S, first_words: int = FIRST_PIECE_WORDS,
                 max_words: int = PIECE_WORDS):
        self.language = language
        self._rate = speaking_rate
        self._silence = sentence_silence_s
        self._first_words = first_words
        self._max_words = max_words
        self._buffer = ""
        self._sentences = 0  # sentence indexes used so far
        self._planned = False  # any piece planned yet

    def add(self, text: str) -> list[Piece]:
        self._buffer += text
        cut = textnorm.complete_sentences_end(self._buffer)
        if not cut and not self._planned:
            cut = textnorm.first_clause_end(self._buffer)
        if not cut:
            return []
        done, self._buffer = self._buffer[:cut], self._buffer[cut:]
        return self._plan(done, final=False)

    def finish(self) -> list[Piece]:
        rest, self._buffer = self._buffer, ""
        return self._plan(rest, final=True)

    def _plan(self, text: str, final: bool) -> list[Piece]:
        if not text.strip():
            return []
        pieces = plan_pieces(text, self.language, speaking_rate=self._rate, sentence_silence_s=self._silence,
                             first_words=self._first_words, max_words=self._max_words,
                             first_sentence_index=self._sentences, short_first=not self._planned, final=final)
        if not pieces:
            return []
        if not final and not _CLOSED.search(text.strip()):  # a clause cut: a short breath after it
            last = pieces[-1]
            pieces[-1] = Piece(last.text, last.rate, last.sentence_index, last.sentence_text,
                               CLAUSE_PAUSE_S if last.text[-1:] in ",;:" else 0.0, False)
        self._planned = True
        self._sentences = pieces[-1].sentence_index + 1
        return pieces
