"""Self-hosted multilingual streaming voice service.

VAD (webrtcvad) -> speech recognition (faster-whisper) -> intent -> speech synthesis (piper),
served over gRPC (package ``voice.v1``). Generated stubs live in :mod:`voice.v1`; only the
servicer modules import them.
"""

import logging

__version__ = "0.1.0"

_LOGGER = logging.getLogger(__name__)
