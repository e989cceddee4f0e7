"""The Wyoming door: Home Assistant's voice protocol (the ``wyoming`` package's events) over
TCP, for speech-to-text, text-to-speech and intent recognition at one address.

``voice serve --wyoming 0.0.0.0:10300`` (``[server] wyoming``); add it in Home Assistant as a
Wyoming Protocol integration with that host and port, or let Home Assistant discover it with
``--zeroconf`` (``[server] zeroconf = true``). What a client can send:

* ``describe`` -> ``info``: one ASR program (the Whisper models and their languages), one TTS
  program (every voice with its languages and speakers), and an intent program (the domain's
  languages and intents) when intents are on.
* ``transcribe`` (language, model, ``transcript_names`` / ``transcript_terms`` as phrase hints),
  then ``audio-start`` / ``audio-chunk``\\* / ``audio-stop`` (16-bit PCM, mono or stereo,
  8-48 kHz) -> ``transcript-start``, ``transcript-chunk``\\* (each utterance's final as soon as it
  is decoded), ``transcript`` (the whole text, what Home Assistant waits for),
  ``transcript-stop``.
* ``synthesize`` -> ``audio-start`` / ``audio-chunk``\\* / ``audio-stop``; streaming:
  ``synthesize-start``, ``synthesize-chunk``\\* (audio starts after the first clause),
  ``synthesize-stop`` -> one ``audio-start`` ... ``audio-stop`` for the whole reply, then
  ``synthesize-stopped``. The full ``synthesize`` a streaming client also sends inside the
  stream (for old servers) is ignored, so nothing is spoken twice.
* ``recognize`` (or a ``transcript``: Home Assistant's conversation agent sends the user's text
  so, with its language) -> ``intent`` with the slots as entities, or ``not-recognized``.
* ``ping`` -> ``pong``.

Errors (a bad field, the server still loading, too many streams) are answered with ``error``
(its text names the field; code ``invalid-argument``, ``unavailable``, ``resource-exhausted``,
``unimplemented``). :mod:`.mapping` is the event <-> service mapping, :mod:`.server` the
listener and the connections, :mod:`.discovery` the zeroconf advertising. Setup for Home
Assistant users: ``docs/home-assistant.md``.
"""

from .server import WyomingConnection, WyomingServer

__all__ = ["WyomingConnection", "WyomingServer"]
