"""Operations around every door: metrics (:mod:`.metrics`), API keys and quotas (:mod:`.keys`,
applied by :mod:`.grpc_guard` and :mod:`.http_guard`), TLS (:mod:`.tls`), request ids and JSON
logs (:mod:`.logs`), optional tracing (:mod:`.tracing`). The doors call into it; it calls
nothing of them.
"""
