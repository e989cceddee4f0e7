"""The pure core: no I/O, no models, no protocol.

Audio formats (:mod:`.audio`), endpointing (:mod:`.vad`), the per-stream recognition state
machine (:mod:`.session`), interim stability (:mod:`.stability`), TTS text planning
(:mod:`.planning`, :mod:`.ssml`, :mod:`.textnorm`), one synthesis request's chunking
(:mod:`.synthesis`), language codes (:mod:`.languages`), the plain result types
(:mod:`.transcripts`, :mod:`.results`, :mod:`.intents`) and the service errors
(:mod:`.errors`).
"""
