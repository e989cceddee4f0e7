"""Backends behind small interfaces: Whisper recognition (:mod:`.whisper`, cross-stream
:mod:`.batching`), Piper and espeak-ng voices (:mod:`.piper`, :mod:`.espeak`, the catalogue
in :mod:`.voices`) and the intent model (:mod:`.intent`). The libraries' internals each sit
behind one module with a version check (:mod:`.fw_compat`, :mod:`.piper_compat`)."""
