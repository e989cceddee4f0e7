"""Helpers shared by the test suite (tests/) and the benchmarks (bench/).

Nothing here is imported by the service. The modules keep their heavy imports (gRPC, the
engines, the generated stubs) inside functions or to the modules that need them, so that
loading the pytest plugin (:mod:`voice.testing.plugin`) stays cheap for the unit tests:

* :mod:`voice.testing.paths` - the checkout and its model cache;
* :mod:`voice.testing.prompts` - Debian's asterisk telephone prompts with their texts, WER;
* :mod:`voice.testing.server` - a real gRPC server in a background event loop;
* :mod:`voice.testing.streams` - streaming-recognition requests and concurrent streams;
* :mod:`voice.testing.programs` - running the installed programs as a user does;
* :mod:`voice.testing.harness` - the streaming benchmark's load generator (bench/);
* :mod:`voice.testing.intent_domains` - small intent domains for the intent tests;
* :mod:`voice.testing.caller` - a simulated phone caller for conversations (echo included);
* :mod:`voice.testing.audiosocket_peer` - an Asterisk AudioSocket peer written from the protocol;
* :mod:`voice.testing.signals` - synthetic speech-like signals for DSP tests and benchmarks;
* :mod:`voice.testing.plugin` - the pytest fixtures ``config``, ``engine``, ``server``, ``channel``.
"""
