"""The Twilio Media Streams door: a phone call bridged over a WebSocket to a conversation.

Twilio's bidirectional Media Streams (and the providers that speak the same messages:
Telnyx, SignalWire, ...) open ``GET /twilio/media`` as a WebSocket and exchange JSON text
frames: the caller's 8 kHz mu-law audio comes in as ``media`` events, DTMF as ``dtmf``, the
end of the call as ``stop``; the reply goes back as ``media`` (paced in real time, 20 ms a
message), a ``clear`` when the caller barges in (the far end drops what it still holds) and a
``mark`` named ``reply-<id>-end`` when a reply has ended. The conversation's replies come from
the reply webhook when the server has one (``conversation.reply_webhook``), else from the
intents file.

Point a call at it with TwiML; ``<Parameter>`` values arrive as the start event's
``customParameters`` (``language`` picks the call's language, else
``conversation.language``, else it is detected)::

    <Response>
      <Connect>
        <Stream url="wss://host:port/twilio/media">
          <Parameter name="language" value="en"/>
        </Stream>
      </Connect>
    </Response>

The routes are mounted on the server's HTTP app by :func:`add_routes`
(:class:`voice.api.http.HttpServer`); TLS (``wss://``) is a reverse proxy's job.
"""

from .bridge import PATH, add_routes

__all__ = ["PATH", "add_routes"]
