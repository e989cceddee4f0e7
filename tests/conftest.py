"""Two layers: tests/unit (no models, no Debian test audio, no server; seconds) and
tests/integration (the real embedded models, asterisk prompts, a real gRPC server).

The shared fixtures (``config``, ``engine``, ``server``, ``channel``) come from the pytest
plugin :mod:`voice.testing.plugin`; helpers are imported from :mod:`voice.testing`.
"""

pytest_plugins = ["voice.testing.plugin"]
