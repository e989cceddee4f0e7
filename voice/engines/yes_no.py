"""Yes or no from one decoder step, when the constrained decode of a yes/no answer gave no
answer word.

On 8 kHz audio Whisper base writes a Spanish "Sí" as "C.F." and drops a Russian "нет" cut
from a prompt; its first-token distribution still ranks the answer words right
(bench/phone.py). :class:`YesNoScorer` scores the grammar {the language's yes words, its no
words} by the probability of each word's first token after the prompt, one encoder pass and
one decoder step (:func:`voice.core.answers.choose_yes_no` decides). Blocking; called from the
recogniser's worker thread.
"""

from __future__ import annotations

import numpy as np

from ..core.answers import NO, YES, choose_yes_no
from ..core.audio import SAMPLE_RATE
from . import fw_compat
from .batching import features
from .limits import vad_parameters


class YesNoScorer:
    def __init__(self, model, multilingual: bool, min_window_s: float):
        self._model = model  # faster_whisper.WhisperModel
        self._multilingual = multilingual
        self._min_window_s = min_window_s
        self._tables: dict[str, tuple[dict[int, str], dict[int, str]]] = {}

    def _table(self, language: str) -> tuple[dict[int, str], dict[int, str]]:
        """(first token -> yes word, first token -> no word); tokens both could start dropped."""
        table = self._tables.get(language)
        if table is None:
            tok = self._model.hf_tokenizer
            sides = []
            for words in (YES.get(language, []), NO.get(language, [])):
                firsts: dict[int, str] = {}
                for word in words:
                    for variant in (word.capitalize(), word):
                        for text in (" " + variant, variant):
                            ids = tok.encode(text, add_special_tokens=False).ids
                            if ids:
                                firsts.setdefault(ids[0], variant)
                sides.append(firsts)
            both = set(sides[0]) & set(sides[1])
            table = ({i: w for i, w in sides[0].items() if i not in both},
                     {i: w for i, w in sides[1].items() if i not in both})
            self._tables[language] = table
        return table

    def word(self, audio: np.ndarray, language: str) -> str | None:
        """The answer word ``audio`` (16 kHz) most likely says in ``language`` ("Si", "No"),
        or None: no speech, no table for the language, or no clear winner."""
        yes, no = self._table(language)
        if not yes or not no:
            return None
        speech, _ = fw_compat.speech_chunks(audio, vad_parameters("yes_no"))  # an expected answer's
        if speech.size < SAMPLE_RATE // 10:  # Silero heard no speech
            return None
        feats, _ = features(self._model, [speech], self._min_window_s)
        encoded = fw_compat.encode(self._model, feats)
        tok = fw_compat.tokenizer(self._model, self._multilingual, language)
        logprobs = fw_compat.first_token_logprobs(self._model, encoded, fw_compat.prompt(self._model, tok, [], None))
        p_yes = float(np.logaddexp.reduce(logprobs[list(yes)]))
        p_no = float(np.logaddexp.reduce(logprobs[list(no)]))
        answer = choose_yes_no(p_yes, p_no)
        if answer is None:
            return None
        side = yes if answer else no
        return side[max(side, key=lambda i: logprobs[i])]
