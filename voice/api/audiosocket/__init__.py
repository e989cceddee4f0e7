r"""The Asterisk AudioSocket door: a phone line that plugs straight into the conversation service.

Asterisk's ``AudioSocket()`` dialplan application (``res_audiosocket`` / ``app_audiosocket``)
connects to :class:`~voice.api.audiosocket.bridge.AudioSocketServer` over TCP, sends the call's
UUID, then the caller's audio (8 kHz signed linear, 20 ms frames) and DTMF digits; the server
answers with the conversation's replies (greeting, answers from the intents file or the reply
webhook) as 20 ms audio frames, paced in real time, and stops sending at a barge-in::

    [voicebot]
    exten => 100,1,Answer()
     same => n,Set(UUID=${UUID()})
     same => n,AudioSocket(${UUID},127.0.0.1:9092)
     same => n,Hangup()

The first argument must be a real UUID: Asterisk parses it (``uuid_parse``) and fails the
application for anything else, so a call number or channel name will not do. ``${UUID()}`` is
the dialplan function of the ``func_uuid`` module (Asterisk releases from 2024 on; a fresh
random UUID per call), kept in the channel variable ``UUID`` that ``${UUID}`` reads; on older
releases use ``Set(UUID=${SHELL(uuidgen | tr -d '\n')})``. The port is where the server
listens (``--audiosocket HOST:PORT``; 9092 above).

The UUID is the conversation's ``call_id`` (the reply webhook sees it) and names the call in
the logs. The dialplan passes nothing else, so the calls' language is the server's
(``language`` of :class:`~voice.api.audiosocket.bridge.AudioSocketServer`; "" detects it per
utterance). Replies come from the reply webhook when the server has one
(``conversation.reply_webhook``), else from the intents file.

:mod:`~voice.api.audiosocket.protocol` is the framing (no I/O, its limits documented there),
:mod:`~voice.api.audiosocket.bridge` the server.
"""

from .bridge import AudioSocketServer
from .protocol import ProtocolError

__all__ = ["AudioSocketServer", "ProtocolError"]
