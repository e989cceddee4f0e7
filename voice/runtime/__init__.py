"""The runtime: model lifecycle and resolution (:mod:`.engine`, :mod:`.models`) and the
decode scheduler all streams share (:mod:`.scheduler`)."""
