"""Programs that talk to the voice server over gRPC (``voice-client``)."""
