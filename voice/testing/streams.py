"""Streaming recognition from the client side, as the tests drive it: request builders for
8 kHz LINEAR16 prompts and many concurrent streams against a live server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import grpc
import numpy as np
import soundfile as sf
from voice_api.v1 import audio_pb2, recognizer_pb2, recognizer_pb2_grpc

from voice.testing.prompts import Prompt, pick_prompts, wer

RATE = 8000
"""Sample rate of the telephone prompts, and of every stream built here."""


def config_request(language: str = "", interim: bool = False, alternatives: Sequence[str] = (),
                   hints: Sequence[str] = (), words: bool = False,
                   **endpointing: Any) -> recognizer_pb2.StreamingRecognizeRequest:
    """The first request of a stream: 8 kHz LINEAR16, the given language options and
    ``endpointing`` fields (``speech_timeout_ms=...``, ``vad_aggressiveness=...``)."""
    cfg = recognizer_pb2.RecognitionConfig(
        encoding=audio_pb2.LINEAR16, sample_rate_hertz=RATE, language_code=language,
        alternative_language_codes=list(alternatives), phrase_hints=list(hints), enable_word_time_offsets=words,
        endpointing=recognizer_pb2.EndpointingConfig(**endpointing))
    return recognizer_pb2.StreamingRecognizeRequest(
        streaming_config=recognizer_pb2.StreamingRecognitionConfig(config=cfg, interim_results=interim))


def audio_requests(pcm: np.ndarray, chunk_ms: int = 100,
                   pace: float = 0.0) -> Iterator[recognizer_pb2.StreamingRecognizeRequest]:
    """``pcm`` (int16, 8 kHz) in ``chunk_ms`` chunks; ``pace`` 1.0 sends them in real time."""
    step = RATE * chunk_ms // 1000
    for i in range(0, pcm.size, step):
        if pace:
            time.sleep(chunk_ms / 1000 * pace)
        yield recognizer_pb2.StreamingRecognizeRequest(audio_content=pcm[i:i + step].tobytes())


def load(p: Prompt) -> np.ndarray:
    """A prompt's samples (int16, 8 kHz)."""
    audio, rate = sf.read(p.path, dtype="int16")
    assert rate == RATE
    return audio


def silence(seconds: float) -> np.ndarray:
    """``seconds`` of 8 kHz int16 silence."""
    return np.zeros(int(RATE * seconds), np.int16)


def finals(responses: Iterable[recognizer_pb2.StreamingRecognizeResponse]) -> list:
    """The final results of a stream's responses, in order."""
    return [r for resp in responses for r in resp.results if r.is_final]


def concurrent_streams(stub: recognizer_pb2_grpc.RecognizerStub, streams: int, words: bool = False) -> dict[int, list]:
    """``streams`` streams at once, two prompts each, sent faster than real time; asserts no
    errors and both finals of every stream, with a plausible text. Returns the finals."""
    prompts = pick_prompts("en", 2 * streams, min_words=3, max_words=10)
    results: dict[int, list] = {}
    errors: list = []

    def one(i: int) -> None:
        a, b = prompts[2 * i], prompts[2 * i + 1]
        pcm = np.concatenate([load(a), silence(1.0), load(b), silence(1.0)])

        def requests() -> Iterator[recognizer_pb2.StreamingRecognizeRequest]:
            yield config_request("en", interim=True, words=words)
            yield from audio_requests(pcm, chunk_ms=20)

        try:
            results[i] = finals(stub.StreamingRecognize(requests(), timeout=600))
        except grpc.RpcError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(streams):
        assert [f.utterance_index for f in results[i]] == [0, 1], i
        refs = [prompts[2 * i].text, prompts[2 * i + 1].text]
        assert wer(refs, [f.alternatives[0].transcript for f in results[i]]) <= 0.3
    return results
