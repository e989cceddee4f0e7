"""faster-whisper speech recognition backend.

:class:`WhisperRecognizer` wraps one CTranslate2 Whisper model. :meth:`transcribe` is
blocking and consumes faster-whisper's lazy segment generator wholly, so callers run it in a
worker thread. faster-whisper is imported lazily, when a model is loaded.

Every decode is one try at temperature 0: a repetition loop is capped by the audio's token
budget and cut in that decode (:mod:`voice.engines.limits`), never re-run through the
temperature fallback (a caller's explicit ``temperature`` keeps faster-whisper's fallback
schedule). With several candidate languages, the stream's preferred language is kept for
short utterances and otherwise detected once (encoder + one decoder step) before the one
decode (:mod:`voice.core.languages`). An expected answer (``DecodeOptions.expect``)
suppresses every token that is not a digit, punctuation or a piece of that answer's
words (:func:`voice.core.answers.vocabulary`); a digit string's final is decoded in digit words
first ("sept, deux, huit, sept", no numerals: Whisper's counting prior writes numerals) and
the first of the beam's readings that is digits only is kept, else it is decoded as numerals
(:func:`voice.core.answers.complete_reading`); an expected answer keeps the stream's preferred
language however long it is, and a yes/no decode that wrote no answer word falls back to the
answer words scored by their first token (:mod:`voice.engines.yes_no`).

N-best (``DecodeOptions.alternatives`` > 1, finals): the same single decode, with its beam
search returning all its hypotheses (:func:`voice.engines.fw_compat.hypotheses`) and without
timestamp tokens (with them the beam's hypotheses mostly differ in timestamps only, not in
text); the best is the transcript, the next distinct texts its alternatives. With one
alternative nothing of this runs.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..config import AsrConfig
from ..core.answers import LENGTHED, Expect, complete_reading, parse, pick_reading, spoken_vocabulary, vocabulary
from ..core.audio import SAMPLE_RATE
from ..core.errors import InvalidArgument
from ..core.itn import LANGUAGES as ITN_LANGUAGES
from ..core.languages import keeps_language, pick_language
from ..core.transcripts import DecodeOptions, Hypothesis, Transcript, Word
from . import fw_compat
from .batching import BatchDecoder, batch_key
from .devices import DeviceChoice
from .limits import FRAMES_PER_SECOND, FULL_WINDOW, encoder_window, loop_start, max_new_tokens, vad_parameters
from .yes_no import YesNoScorer

_LOGGER = logging.getLogger(__name__)
# expected answers whose finals are decoded without timestamp tokens (see _decode_window)
UNTIMED_ANSWERS = frozenset({Expect.DIGITS.value})
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # faster-whisper's fallback schedule
YES_NO_TOKENS = 8  # token cap of a yes/no answer
# a digit-word reading at least this confident is the final without a numeral decode; below
# it both run and the more confident wins (picked on 40 8 kHz digit strings a language and 20
# streamed French finals: fr 37 -> 38/40 offline and 16 -> 19/20 streamed, a second decode
# for 0-35 % of finals; docs/telephony.md)
SPOKEN_SURE = 0.75


def _nbest(options: DecodeOptions) -> bool:
    """Does this decode keep its n-best? Finals asking for more than one reading, decoded by
    one beam search (a caller's temperature means the sampling fallback)."""
    return options.alternatives > 1 and not options.interim and options.temperature is None


class WhisperRecognizer:
    """One loaded Whisper model. Thread-safe for up to ``num_workers`` concurrent calls."""

    def __init__(self, name: str, model_dir: Path, device: DeviceChoice, cfg: AsrConfig):
        from faster_whisper import WhisperModel

        if cfg.min_window_s < 30:
            fw_compat.install_short_window()
        self.name = name
        self.model_dir = Path(model_dir)
        self.device = device
        self._cfg = cfg
        self._model = WhisperModel(
            str(model_dir),
            device=device.device,
            compute_type=device.compute_type,
            cpu_threads=max(1, (cfg.cpu_threads or os.cpu_count() or 1) // cfg.num_workers),
            num_workers=cfg.num_workers,
            local_files_only=True,
        )
        self._model.feature_extractor = fw_compat.KernelFeatureExtractor(self._model.feature_extractor)
        fw_compat.install_hypotheses(self._model)
        self.multilingual = fw_compat.is_multilingual(self._model)
        self.languages = fw_compat.whisper_languages() if self.multilingual else frozenset({"en"})
        self._token_texts: list[str] | None = None  # text of every token (constrained decoding)
        self._suppress_cache: dict[tuple, list[int]] = {}
        self._yes_no = YesNoScorer(self._model, self.multilingual, cfg.min_window_s)
        self._batch = BatchDecoder(
            self._model, self.multilingual,
            (cfg.no_speech_threshold, cfg.log_prob_threshold, cfg.compression_ratio_threshold),
            cfg.min_window_s, self.transcribe)
        _LOGGER.info("Loaded Whisper %s from %s on %s/%s", name, model_dir, device.device, device.compute_type)

    def check_language(self, language: str | None, field: str = "language_code") -> None:
        if language is not None and language not in self.languages:
            raise InvalidArgument(field, f"{language!r} is not supported by model {self.name!r}")

    def check_task(self, task: str, field: str = "task") -> None:
        if task not in ("transcribe", "translate"):
            raise InvalidArgument(field, f"unknown task {task!r} (transcribe or translate)")
        if task == "translate" and not self.multilingual:
            raise InvalidArgument(field, f"model {self.name!r} is English-only; translation needs a multilingual model")

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Transcript:
        """Decode 16 kHz float32 mono audio (blocking)."""
        self.check_language(options.language)
        self.check_task(options.task)
        if not self.multilingual:
            return self._decode(audio, options, "en")
        candidates = tuple(dict.fromkeys(c for c in options.candidates if c))
        if len(candidates) == 1:
            return self._decode(audio, options, candidates[0])
        if not candidates:
            return self._decode(audio, options, options.language)
        # the stream's language rule (voice.core.languages): a short utterance keeps the
        # preferred language undetected; a longer one is detected (one encoder pass and one
        # decoder step, no text) and decoded once, in the pick among the candidates
        preferred = options.language
        answer = options.expect not in ("", Expect.FREE.value)
        if keeps_language(len(audio) / SAMPLE_RATE, preferred, candidates, answer):
            return self._decode(audio, options, preferred)
        probs = self._detect(audio, options.expect)
        if not probs:  # Silero heard no speech: nothing to detect, nothing to decode
            return self._decode(audio, options, preferred or candidates[0])
        choice = pick_language(probs, candidates, preferred, options.language_margin)
        out = self._decode(audio, options, choice)
        return Transcript(out.text, out.language, float(probs.get(choice, 0.0)), out.confidence, out.words, probs,
                          out.alternatives)

    def _detect(self, audio: np.ndarray, expect: str = "free") -> dict[str, float]:
        """Whisper's language probabilities for the speech in ``audio`` ({} when none)."""
        speech, _ = fw_compat.speech_chunks(audio, vad_parameters(expect))
        if speech.size < SAMPLE_RATE // 10:
            return {}
        window = contextlib.nullcontext() if self._cfg.min_window_s >= 30 else fw_compat.short_window(
            encoder_window(len(speech), self._cfg.min_window_s))
        with window:
            _, _, probs = self._model.detect_language(speech)
        return dict(probs)

    def _suppressed(self, expect: str, language: str | None, spoken: bool = False) -> list[int] | None:
        """Token ids an answer of kind ``expect`` in ``language`` may not use (constrained
        decoding), or None for free speech and languages without answer tables. ``spoken``: a
        digit string in words (:func:`voice.core.answers.spoken_vocabulary`), no numerals."""
        kind = Expect(expect or "free")
        lang = (language or "").split("-")[0]
        if kind == Expect.FREE or lang not in ITN_LANGUAGES:
            return None
        key = (kind, lang, spoken)
        cached = self._suppress_cache.get(key)
        if cached is not None:
            return cached
        tok = self._model.hf_tokenizer
        if self._token_texts is None:
            eot = fw_compat.tokenizer(self._model, self.multilingual, lang).eot
            self._token_texts = [tok.decode([i]) for i in range(eot)]
        words = (spoken_vocabulary(lang) if spoken else vocabulary(kind, lang)) or frozenset()
        chars = {w for w in words if len(w) == 1 and not w.isalpha()}
        allowed: set[int] = set()
        for word in words:  # the pieces Whisper writes each allowed word with
            if len(word) == 1 and not word.isalpha():
                continue
            for variant in {word, word.capitalize(), word.upper()}:
                for text in (" " + variant, variant):
                    allowed.update(tok.encode(text, add_special_tokens=False).ids)
        suppressed = []
        for i, text in enumerate(self._token_texts):
            if i in allowed:
                continue
            folded = text.strip()
            if folded and all(c in chars for c in folded):
                continue  # digits, punctuation
            if not folded and text:
                continue  # spaces
            suppressed.append(i)
        self._suppress_cache[key] = suppressed
        return suppressed

    def batch_key(self, options: DecodeOptions) -> tuple:
        """Decodes with equal keys may run as one batch (:meth:`transcribe_batch`)."""
        # a constrained decode (expected answer) and an n-best one run on the single path, never in a batch
        return (*batch_key(self.name, options), options.expect, options.alternatives)

    def transcribe_batch(self, items: list[tuple[np.ndarray, DecodeOptions]]) -> list[Transcript | Exception]:
        """Decode several jobs (of equal :meth:`batch_key`) in one batch (blocking).

        Returns one transcript per item, or the item's exception (a bad language) without
        failing the others."""
        out: list[Transcript | Exception | None] = [None] * len(items)
        valid = []
        for i, (audio, options) in enumerate(items):
            if options.expect not in ("", "free") or options.alternatives > 1:  # the single path only
                try:
                    out[i] = self.transcribe(audio, options)
                except InvalidArgument as exc:
                    out[i] = exc
                continue
            try:
                self.check_language(options.language)
            except InvalidArgument as exc:
                out[i] = exc
            else:
                valid.append(i)
        # translation and a chosen temperature have no batched form: the single path decodes them
        single = [i for i in valid if items[i][1].task != "transcribe" or items[i][1].temperature is not None]
        for i in single:
            try:
                out[i] = self.transcribe(*items[i])
            except InvalidArgument as exc:
                out[i] = exc
        valid = [i for i in valid if i not in single]
        if len(valid) == 1:
            i = valid[0]
            out[i] = self.transcribe(*items[i])
        elif valid:
            for i, transcript in zip(valid, self._batch.decode([items[i] for i in valid])):
                out[i] = transcript
        return out  # type: ignore[return-value]

    def _decode(self, audio: np.ndarray, options: DecodeOptions, language: str | None) -> Transcript:
        kind = Expect(options.expect or "free")
        if kind == Expect.DIGITS and not options.interim and not options.prefix and spoken_vocabulary(language or ""):
            return self._decode_digits(audio, options, language)
        return self._decode_written(audio, options, language)

    def _decode_written(self, audio: np.ndarray, options: DecodeOptions, language: str | None) -> Transcript:
        kind = Expect(options.expect or "free")
        if options.answer_length == (0, 0) or options.interim or kind not in LENGTHED:
            return self._decode_once(audio, options, language)
        # an expected length: every reading of the beam, the first of that length reported
        out = self._decode_once(audio, replace(options, alternatives=max(options.alternatives, options.beam_size)),
                                language)
        readings = [out.text, *(h.text for h in out.alternatives)]
        pick = pick_reading(kind, readings, language or out.language, options.answer_length)
        return _reading(out, pick, options.alternatives)

    def _decode_digits(self, audio: np.ndarray, options: DecodeOptions, language: str | None) -> Transcript:
        """A digit string's final: decoded in digit words ("sept, deux, huit, sept"), the first
        of the beam's readings that is digits only (and of the expected length). Unless that
        reading is sure (``SPOKEN_SURE``), the numeral decode runs too and the more confident
        of the two is reported (a digit-word decode can also stop a digit short: "huit,
        quatre, six, six" for 84660, which the numerals read right)."""
        lang = language or ""
        out = self._decode_once(audio, replace(options, alternatives=max(options.alternatives, options.beam_size)),
                                language, spoken=True)
        readings = [out.text, *(h.text for h in out.alternatives)] if out.text else []
        pick = complete_reading(readings, lang, options.answer_length)
        spoken = _reading(out, pick, options.alternatives) if pick is not None else None
        if spoken is not None and spoken.confidence >= SPOKEN_SURE:
            return spoken
        written = self._decode_written(audio, options, language)
        if spoken is None:
            return written
        if complete_reading([written.text], lang, options.answer_length) is None:
            return spoken  # the numerals read no digit string (of that length)
        return spoken if spoken.confidence >= written.confidence else written

    def _decode_once(self, audio: np.ndarray, options: DecodeOptions, language: str | None,
                     spoken: bool = False) -> Transcript:
        # n-best: the beam search's hypotheses are all kept (calls), this thread only
        with fw_compat.hypotheses(options.beam_size) if _nbest(options) else contextlib.nullcontext([]) as calls:
            if self._cfg.min_window_s >= 30:
                return self._decode_window(audio, options, language, calls, spoken)
            with fw_compat.short_window(encoder_window(len(audio), self._cfg.min_window_s)):
                return self._decode_window(audio, options, language, calls, spoken)

    def _decode_window(self, audio: np.ndarray, options: DecodeOptions, language: str | None,
                       calls: list, spoken: bool = False) -> Transcript:
        cfg = self._cfg
        prompt = ", ".join(options.hints) if options.hints else None
        cap = max_new_tokens(len(audio))
        if options.expect == Expect.YES_NO.value:
            cap = min(cap, YES_NO_TOKENS)  # one or two words
        suppressed = self._suppressed(options.expect, language, spoken) if language else None
        if options.interim or options.temperature is None:
            # no temperature fallback: a loop is capped (max_new_tokens) and cut (loop_start)
            # within this one decode instead of re-running it up to five times
            temperature: float | list[float] = 0.0
        else:  # the caller's temperature first, then the hotter steps of the fallback
            temperature = [options.temperature, *(t for t in TEMPERATURES if t > options.temperature)]
        nbest = _nbest(options)
        # a forced prefix is decoded without timestamps: with them the model closes the prefix's
        # segment with one timestamp and stops, faster-whisper takes the window as done, and the
        # speech after the prefix is lost ("press 1 now." forced on 11 s gave just that)
        # a digit string's final too: one timestamp token after a few digits closes the
        # segment early and what follows is decoded again from there, a digit short or in a
        # loop ("6 8 9 10" for 6896); untimed, 100 8 kHz digit strings (4-8 digits, en fr es
        # it ru, one at a time) came out right 96 times instead of 92 (fr 18/20 from 15)
        untimed = nbest or bool(options.prefix) or (options.expect in UNTIMED_ANSWERS and not options.interim)
        one_window = len(audio) <= FULL_WINDOW * SAMPLE_RATE // FRAMES_PER_SECOND
        segments, info = self._model.transcribe(
            audio,
            language=language,
            task=options.task,
            initial_prompt=prompt,
            prefix=options.prefix or None,
            beam_size=1 if options.interim else options.beam_size,
            temperature=temperature,
            word_timestamps=options.word_timestamps,
            condition_on_previous_text=False,
            without_timestamps=untimed,  # n-best: hypotheses that differ in words, not only in timestamps
            no_speech_threshold=cfg.no_speech_threshold,
            log_prob_threshold=cfg.log_prob_threshold,
            compression_ratio_threshold=cfg.compression_ratio_threshold,
            # second, model-based speech check (Silero): webrtcvad passes music and noise
            vad_filter=True,
            vad_parameters=vad_parameters(options.expect),
            # tokens capped by audio length: a guard against repetition loops
            max_new_tokens=cap,
            suppress_tokens=suppressed if suppressed is not None else [-1],
        )
        n_tokens = 0
        texts: list[str] = []
        words: list[Word] = []
        weighted = 0.0
        total = 0.0
        for seg in segments:  # consumes the lazy generator here, in the worker thread
            n_tokens += len(seg.tokens)
            text = seg.text.strip()
            if not text:
                continue
            texts.append(text)
            span = max(seg.end - seg.start, 1e-3)
            weighted += math.exp(seg.avg_logprob) * span
            total += span
            for w in seg.words or ():
                words.append(Word(w.word.strip(), float(w.start), float(w.end), float(w.probability)))
            if untimed and one_window:
                # all the speech was in this window; with word timings faster-whisper would
                # decode again from the last word's end (no timestamp tokens to seek by):
                # a second encoder pass for the silence after the speech
                break
        text = " ".join(texts).strip()
        confidence = weighted / total if total else 0.0
        split = text.split()
        keep = loop_start(split, len(audio) / SAMPLE_RATE, n_tokens >= cap - 2)
        if keep is not None:  # a repetition loop: keep what came before it, once
            _LOGGER.debug("repetition loop cut after %d of %d words", keep, len(split))
            text = " ".join(split[:keep])
            words = words[:keep]
            confidence *= 0.5
        if (options.expect == Expect.YES_NO.value and not options.interim and language
                and not parse(Expect.YES_NO, text, language).value):
            # no answer word came out (8 kHz "Sí" written "C.F."): the grammar's words scored
            # by their first token instead (voice.engines.yes_no), one more decoder step
            word = self._yes_no.word(audio, language)
            if word:
                text, words = word, []
        probs = dict(info.all_language_probs or ()) or {info.language: float(info.language_probability)}
        return Transcript(
            text=text,
            language=info.language,
            language_probability=float(info.language_probability),
            confidence=float(confidence),
            words=tuple(words),
            language_probs=probs,
            alternatives=self._alternatives(calls, texts, text, options.alternatives, len(audio) / SAMPLE_RATE,
                                            cap, info.language) if nbest and text else (),
        )

    def _alternatives(self, calls: list, segments: list[str], best: str, wanted: int, seconds: float, cap: int,
                      language: str) -> tuple[Hypothesis, ...]:
        """Up to ``wanted - 1`` readings after ``best``, best first, each text once, from the
        hypotheses (``calls``: :func:`fw_compat.hypotheses`) of the one beam search that made
        the transcript's one segment (``segments``: their texts); a repetition loop is cut as
        in the best one. A call that made no kept segment (the audio after the last word,
        which faster-whisper decodes again when words are timed) is not used."""
        if len(segments) != 1:  # the speech took several windows: only the best reading is whole
            return ()
        tok = fw_compat.tokenizer(self._model, self.multilingual, language)
        segment = " ".join(segments[0].split())
        made = [c for c in calls if c and " ".join(tok.decode(c[0][0]).split()) == segment]
        if len(made) != 1:
            return ()
        seen = {" ".join(best.split())}
        out: list[Hypothesis] = []
        for ids, score in made[0]:
            split = tok.decode(ids).split()
            confidence = math.exp(score * len(ids) / (len(ids) + 1))  # the mean token probability, as the best's
            keep = loop_start(split, seconds, len(ids) >= cap - 2)
            if keep is not None:
                split, confidence = split[:keep], confidence * 0.5
            text = " ".join(split)
            if text and text not in seen:
                seen.add(text)
                out.append(Hypothesis(text, float(confidence)))
                if len(out) == wanted - 1:
                    break
        return tuple(out)


def _reading(out: Transcript, pick: int, wanted: int) -> Transcript:
    """``out`` with its reading ``pick`` (0: the best) reported and ``wanted`` readings in all."""
    if pick == 0:
        return replace(out, alternatives=out.alternatives[:wanted - 1])
    chosen = out.alternatives[pick - 1]
    rest = [Hypothesis(out.text, out.confidence), *(h for i, h in enumerate(out.alternatives) if i != pick - 1)]
    return replace(out, text=chosen.text, confidence=chosen.confidence, words=(), alternatives=tuple(rest[:wanted - 1]))
