"""Cross-stream batched Whisper decoding (one encoder pass and one beam search for many jobs).

faster-whisper's ``BatchedInferencePipeline`` batches the chunks of *one* file: one language,
one prompt, no prefix. A streaming server needs the opposite: the waiting jobs of different
streams, each with its own language (declared, or detected among its own candidates), its
committed prefix (LocalAgreement) and its phrase hints. CTranslate2's Whisper takes a prompt
per batch item, so :class:`BatchDecoder` drives it directly:

1. per job, Silero VAD (the same guard and padding as the single path) keeps the speech;
2. log-mel features (``kernels``) padded to one encoder window, one ``encode`` for the batch;
3. one ``detect_language`` for the jobs that need a decision, then the candidate policy of
   :func:`voice.core.languages.pick_language`;
4. one ``generate`` with per-job prompts (language token, hints, prefix);
5. the hallucination rules of faster-whisper (no-speech + log-prob = silence); a final that
   fails the log-prob or compression-ratio threshold is decoded again on the single path,
   whose temperature fallback repairs it;
6. word timings from one ``align`` per language present, mapped back through the VAD cuts.

CTranslate2 needs ``<|startoftranscript|>`` at the same position in every prompt, so a batch
holds jobs with the same hints (:func:`batch_key`). Blocking; run from a scheduler worker.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.audio import SAMPLE_RATE
from ..core.languages import pick_language
from ..core.transcripts import DecodeOptions, Transcript, Word
from . import fw_compat
from .limits import encoder_window, max_new_tokens, vad_parameters

_LOGGER = logging.getLogger(__name__)
# faster-whisper's defaults: punctuation joins the word before (or after) it
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"


def batch_key(model_name: str, options: DecodeOptions) -> tuple:
    """Jobs with equal keys may share a batch: same model, same search, same prompt shape."""
    return (model_name, options.interim, 1 if options.interim else options.beam_size, options.hints)


@dataclass(eq=False)
class _Job:
    audio: np.ndarray
    options: DecodeOptions
    speech: np.ndarray  # the audio Silero kept
    chunks: list  # Silero's speech chunks (sample spans of ``audio``)
    language: str | None = None
    probs: dict | None = None
    prompt: list | None = None


class BatchDecoder:
    """Batched decodes on one loaded ``faster_whisper.WhisperModel``."""

    def __init__(self, model, multilingual: bool, thresholds: tuple[float, float, float],
                 min_window_s: float, single: Callable[[np.ndarray, DecodeOptions], Transcript]):
        self._model = model  # faster_whisper.WhisperModel
        self._multilingual = multilingual
        self._no_speech, self._log_prob, self._compression = thresholds
        self._min_window_s = min_window_s
        self._single = single  # the single-job path (temperature fallback, timestamps mode)
        self._tokenizers: dict[str | None, object] = {}

    # -- public --------------------------------------------------------------------------
    def decode(self, items: Sequence[tuple[np.ndarray, DecodeOptions]]) -> list[Transcript]:
        """One transcript per ``(audio, options)`` item, in order."""
        jobs = [self._prepare(audio, options) for audio, options in items]
        out: list[Transcript | None] = [None] * len(jobs)
        live = []
        for i, job in enumerate(jobs):
            if job.speech.size < SAMPLE_RATE // 10:  # Silero heard no speech
                out[i] = Transcript("", _fallback_language(job.options, self._multilingual), 0.0, 0.0)
            else:
                live.append(i)
        if live:
            for i, transcript in zip(live, self._decode_live([jobs[i] for i in live])):
                out[i] = transcript
        return out  # type: ignore[return-value]

    # -- steps ---------------------------------------------------------------------------
    def _prepare(self, audio: np.ndarray, options: DecodeOptions) -> _Job:
        speech, chunks = fw_compat.speech_chunks(audio, vad_parameters(options.expect))
        return _Job(audio, options, speech, chunks)

    def _tokenizer(self, language: str | None):
        tok = self._tokenizers.get(language)
        if tok is None:
            tok = fw_compat.tokenizer(self._model, self._multilingual, language)
            self._tokenizers[language] = tok
        return tok

    def _features(self, jobs: list[_Job]) -> tuple[np.ndarray, list[int]]:
        return features(self._model, [j.speech for j in jobs], self._min_window_s)

    def _languages(self, jobs: list[_Job], encoder_output) -> None:
        if not self._multilingual:
            for job in jobs:
                job.language = "en"
            return
        undecided = []
        for job in jobs:
            cands = tuple(dict.fromkeys(c for c in job.options.candidates if c))
            if len(cands) == 1:
                job.language = cands[0]
            elif not cands and job.options.language:
                job.language = job.options.language
            else:
                undecided.append(job)
        if not undecided:
            return
        detected = fw_compat.detect_language(self._model, encoder_output)  # one decoder step, whole batch
        for b, job in enumerate(jobs):
            if job not in undecided:
                continue
            probs = {tok[2:-2]: float(p) for tok, p in detected[b]}
            cands = tuple(dict.fromkeys(c for c in job.options.candidates if c))
            job.language = pick_language(probs, cands, job.options.language) if cands else max(probs, key=probs.get)
            job.probs = probs

    def _decode_live(self, jobs: list[_Job]) -> list[Transcript]:
        features, frames = self._features(jobs)
        encoder_output = fw_compat.encode(self._model, features)
        self._languages(jobs, encoder_output)
        max_length = 0
        for job in jobs:
            tok = self._tokenizer(job.language)
            hints = tok.encode(" " + ", ".join(job.options.hints)) if job.options.hints else []
            job.prompt = fw_compat.prompt(self._model, tok, hints, job.options.prefix or None)
            max_length = max(max_length, len(job.prompt) + max_new_tokens(len(job.speech)))
        first = jobs[0]
        beam = 1 if first.options.interim else first.options.beam_size
        results = fw_compat.generate(self._model, encoder_output, [j.prompt for j in jobs], beam_size=beam,
                                     max_length=max_length, tok=self._tokenizer(first.language))
        out: list[Transcript | None] = []
        keep: list[tuple[int, list[int]]] = []  # (batch index, text tokens) of jobs needing words
        for b, (job, result) in enumerate(zip(jobs, results)):
            tok = self._tokenizer(job.language)
            seq = result.sequences_ids[0]
            tokens = [t for t in seq if t < tok.eot]
            avg_logprob = result.scores[0] * len(seq) / (len(seq) + 1)  # as faster-whisper
            text = tok.decode(tokens).strip()
            silent = result.no_speech_prob > self._no_speech and avg_logprob < self._log_prob
            if silent or not text:
                out.append(Transcript("", job.language or _fallback_language(job.options, self._multilingual), _prob(job),
                                      0.0, language_probs=job.probs or {}))
                continue
            failed = avg_logprob < self._log_prob or fw_compat.compression_ratio(text) > self._compression
            if failed and not job.options.interim:
                # the single path retries with temperature fallback (rare; counted in logs)
                _LOGGER.debug("batched decode below thresholds; single-path retry")
                out.append(self._single(job.audio, job.options))
                continue
            out.append(Transcript(text, job.language or "", _prob(job), float(math.exp(avg_logprob)),
                                  language_probs=job.probs or {job.language: 1.0}))
            if job.options.word_timestamps:
                keep.append((b, tokens))
        if keep:
            self._add_words(jobs, out, keep, encoder_output, frames)
        return out  # type: ignore[return-value]

    def _add_words(self, jobs, out, keep, encoder_output, frames) -> None:
        """Word timings by forced alignment: one ``align`` call per language in ``keep``."""
        by_language: dict[str, list[tuple[int, list[int]]]] = {}
        for b, tokens in keep:
            by_language.setdefault(jobs[b].language, []).append((b, tokens))
        all_tokens = [[] for _ in jobs]
        for b, tokens in keep:
            all_tokens[b] = tokens
        for language, members in by_language.items():
            tok = self._tokenizer(language)
            # align runs on the whole batch's encoder output; other rows carry their own
            # tokens (or one placeholder) and their rows are ignored
            text_tokens = [t or tok.encode(" a") for t in all_tokens]
            alignments = fw_compat.align(self._model, tok, text_tokens, encoder_output, frames)
            for b, _ in members:
                fw_compat.merge_punctuations(alignments[b], PREPEND_PUNCTUATIONS, APPEND_PUNCTUATIONS)
                timings = fw_compat.time_map(jobs[b].chunks, SAMPLE_RATE)
                words = []
                for w in alignments[b]:
                    if not w["word"].strip():
                        continue
                    chunk = timings.get_chunk_index((w["start"] + w["end"]) / 2)
                    words.append(Word(w["word"].strip(), timings.get_original_time(float(w["start"]), chunk),
                                      timings.get_original_time(float(w["end"]), chunk), float(w["probability"])))
                t = out[b]
                out[b] = Transcript(t.text, t.language, t.language_probability, t.confidence, tuple(words),
                                    t.language_probs)


def features(model, speeches: Sequence[np.ndarray], min_window_s: float) -> tuple[np.ndarray, list[int]]:
    """Log-mel features of 16 kHz ``speeches`` padded to one encoder window (batch, mels,
    frames), and each item's frame count."""
    import kernels

    n_mels = fw_compat.n_mels(model)
    window = max(encoder_window(len(s), min_window_s) for s in speeches)
    batch = np.zeros((len(speeches), n_mels, window), np.float32)
    frames = []
    for b, speech in enumerate(speeches):
        mel = kernels.log_mel_spectrogram(np.ascontiguousarray(speech), n_mels)
        n = min(window, mel.shape[1] - 1)  # the last frame is padding (faster-whisper drops it)
        batch[b, :, :n] = mel[:, :n]  # the rest stays 0.0, as faster-whisper's pad_or_trim
        frames.append(n)
    return batch, frames


def _fallback_language(options: DecodeOptions, multilingual: bool) -> str:
    """The language reported for audio with no speech (nothing was decoded)."""
    if not multilingual:
        return "en"
    return options.language or next((c for c in options.candidates if c), "")


def _prob(job: _Job) -> float:
    if job.probs and job.language in job.probs:
        return job.probs[job.language]
    return 1.0 if job.language else 0.0

