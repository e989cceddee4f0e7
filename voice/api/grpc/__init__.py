"""The ``voice.v1`` gRPC door (the only place that imports the generated stubs)."""
