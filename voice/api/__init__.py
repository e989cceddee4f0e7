"""Protocol adapters ("doors"): one subpackage per protocol, each only mapping wire messages to
:mod:`voice.service` requests and service results and errors back to the wire."""
