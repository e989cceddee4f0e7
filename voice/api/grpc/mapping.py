"""voice.v1 protobuf <-> service types, in both directions; nothing else knows the wire.

Functions named ``*_from_pb`` build service requests from messages, ``*_pb`` build messages
from service results. No validation happens here: the service checks values and names the
field in its error.
"""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration
from voice_api.v1 import (
    audio_pb2,
    conversation_pb2,
    recognizer_pb2,
    synthesizer_pb2,
    understander_pb2,
)

from ...core.intents import IntentInfo, IntentResult
from ...core.results import RecognitionResult
from ...engines.voices import VoiceInfo
from ...service import types as t

_EVENTS = {
    t.SpeechEventKind.STARTED: recognizer_pb2.SPEECH_STARTED,
    t.SpeechEventKind.ENDED: recognizer_pb2.SPEECH_ENDED,
    t.SpeechEventKind.TIMEOUT: recognizer_pb2.SPEECH_TIMEOUT,
}


def encoding_name(value: int) -> str:
    """An AudioEncoding value as the service's encoding name ("" when unspecified)."""
    if value == audio_pb2.ENCODING_UNSPECIFIED:
        return ""
    try:
        return audio_pb2.AudioEncoding.Name(value)
    except ValueError:  # a value this server's proto does not know
        return str(value)


def encoding_pb(name: str) -> int:
    return audio_pb2.AudioEncoding.Value(name)


def duration(seconds: float) -> Duration:
    d = Duration()
    d.FromNanoseconds(int(round(seconds * 1e9)))
    return d


# -- recognition ------------------------------------------------------------------------------

def endpointing_from_pb(pb: recognizer_pb2.EndpointingConfig) -> t.EndpointingRequest:
    return t.EndpointingRequest(
        vad_aggressiveness=pb.vad_aggressiveness if pb.HasField("vad_aggressiveness") else None,
        trailing_silence_ms=pb.trailing_silence_ms or None,
        max_utterance_seconds=pb.max_utterance_seconds or None,
        speech_start_ms=pb.speech_start_ms or None,
        speech_timeout_ms=pb.speech_timeout_ms or None,
    )


def recognition_config_from_pb(pb: recognizer_pb2.RecognitionConfig) -> t.RecognitionConfig:
    return t.RecognitionConfig(
        encoding=encoding_name(pb.encoding),
        sample_rate_hertz=pb.sample_rate_hertz,
        language_code=pb.language_code,
        alternative_language_codes=tuple(pb.alternative_language_codes),
        enable_word_time_offsets=pb.enable_word_time_offsets,
        endpointing=endpointing_from_pb(pb.endpointing),
        model=pb.model,
        phrase_hints=tuple(pb.phrase_hints),
        enable_intent=pb.enable_intent,
        expected_answer=expected_answer_name(pb.expected_answer),
        verbatim=pb.verbatim,
        max_alternatives=pb.max_alternatives,
        expected_length=(pb.expected_length.min, pb.expected_length.max),
    )


def expected_answer_name(value: int) -> str:
    """An ExpectedAnswer value as the service's name ("digits"; "" when unspecified)."""
    if value == recognizer_pb2.EXPECT_UNSPECIFIED:
        return ""
    try:
        return recognizer_pb2.ExpectedAnswer.Name(value).removeprefix("EXPECT_").lower()
    except ValueError:  # a value this server's proto does not know: the service names it
        return str(value)


def recognition_update_from_pb(pb: recognizer_pb2.RecognitionUpdate) -> t.RecognitionUpdate:
    return t.RecognitionUpdate(expected_answer=expected_answer_name(pb.expected_answer),
                               expected_length=(pb.expected_length.min, pb.expected_length.max))


def answer_pb(answer) -> recognizer_pb2.Answer | None:
    if answer is None:
        return None
    return recognizer_pb2.Answer(kind=recognizer_pb2.ExpectedAnswer.Value(f"EXPECT_{answer.kind.value.upper()}"),
                                 value=answer.value)


def streaming_config_from_pb(pb: recognizer_pb2.StreamingRecognitionConfig) -> t.StreamingConfig:
    return t.StreamingConfig(recognition_config_from_pb(pb.config), pb.interim_results)


def file_request_from_pb(pb: recognizer_pb2.RecognizeRequest) -> t.FileRecognitionRequest:
    return t.FileRecognitionRequest(audio=pb.audio_content, config=recognition_config_from_pb(pb.config))


def intent_pb(result: IntentResult) -> understander_pb2.UnderstandResponse:
    return understander_pb2.UnderstandResponse(
        intent=result.intent,
        confidence=result.confidence,
        slots=[understander_pb2.IntentSlot(name=s.name, value=s.value, start=s.start, end=s.end) for s in result.slots],
        alternatives=[understander_pb2.IntentAlternative(intent=name, confidence=conf)
                      for name, conf in result.alternatives],
        unavailable_slots=list(result.unavailable_slots),
    )


def alternative_pb(result: RecognitionResult) -> recognizer_pb2.SpeechRecognitionAlternative:
    return recognizer_pb2.SpeechRecognitionAlternative(
        transcript=result.transcript,
        confidence=result.confidence,
        words=[recognizer_pb2.WordInfo(word=w.word, start_time=duration(w.start), end_time=duration(w.end),
                                       confidence=w.confidence) for w in result.words],
    )


def alternatives_pb(result: RecognitionResult) -> list[recognizer_pb2.SpeechRecognitionAlternative]:
    """The transcript (with its words), then a final's other readings (``max_alternatives``)."""
    return [alternative_pb(result), *(recognizer_pb2.SpeechRecognitionAlternative(transcript=alt.text,
                                                                                  confidence=alt.confidence)
                                      for alt in result.alternatives)]


def _streaming_result_pb(result: RecognitionResult) -> recognizer_pb2.StreamingRecognitionResult:
    return recognizer_pb2.StreamingRecognitionResult(
        alternatives=alternatives_pb(result),
        is_final=result.is_final,
        stability=result.stability,
        result_start_time=duration(result.start),
        result_end_time=duration(result.end),
        language_code=result.language,
        utterance_index=result.utterance_index,
        processing_latency=duration(result.latency),
        intent=intent_pb(result.intent) if result.intent is not None else None,
        answer=answer_pb(result.answer),
    )


def stream_output_pb(item: t.StreamOutput) -> recognizer_pb2.StreamingRecognizeResponse:
    if isinstance(item, t.SpeechEvent):
        return recognizer_pb2.StreamingRecognizeResponse(
            speech_event_type=_EVENTS[item.kind], speech_event_time=duration(item.time),
            utterance_index=item.utterance_index)
    if isinstance(item, t.InterimUpdate):
        parts = [p for p in (item.committed, item.tail) if p.transcript]
        return recognizer_pb2.StreamingRecognizeResponse(
            results=[_streaming_result_pb(p) for p in parts], utterance_index=item.committed.utterance_index)
    return recognizer_pb2.StreamingRecognizeResponse(results=[_streaming_result_pb(item)],
                                                     utterance_index=item.utterance_index)


def file_result_pb(result: t.FileRecognitionResult) -> recognizer_pb2.RecognizeResponse:
    return recognizer_pb2.RecognizeResponse(
        results=[
            recognizer_pb2.SpeechRecognitionResult(
                alternatives=alternatives_pb(r),
                result_start_time=duration(r.start),
                result_end_time=duration(r.end),
                language_code=r.language,
                utterance_index=r.utterance_index,
                intent=intent_pb(r.intent) if r.intent is not None else None,
                answer=answer_pb(r.answer),
            )
            for r in result.results
        ],
        total_audio_duration=duration(result.duration_s),
    )


# -- synthesis --------------------------------------------------------------------------------

_CONTAINERS = {synthesizer_pb2.AUDIO_CONTAINER_UNSPECIFIED: "", synthesizer_pb2.RAW: t.Container.RAW.value,
               synthesizer_pb2.WAV: t.Container.WAV.value}
_CONTAINERS_OUT = {t.Container.RAW: synthesizer_pb2.RAW, t.Container.WAV: synthesizer_pb2.WAV}


def synthesis_request_from_pb(pb: synthesizer_pb2.SynthesizeRequest) -> t.SynthesisRequest:
    return t.SynthesisRequest(
        text=pb.text,
        ssml=pb.ssml,
        voice=pb.voice,
        language_code=pb.language_code,
        encoding=encoding_name(pb.encoding),
        sample_rate_hertz=pb.sample_rate_hertz,
        speaking_rate=pb.speaking_rate,
        volume_gain_db=pb.volume_gain_db,
        sentence_silence_ms=pb.sentence_silence_ms if pb.HasField("sentence_silence_ms") else None,
        speaker_id=pb.speaker_id if pb.HasField("speaker_id") else None,
        chunk_duration_ms=pb.chunk_duration_ms,
        container=_CONTAINERS.get(pb.container, str(pb.container)),
    )


def chunk_pb(chunk: t.AudioChunk) -> synthesizer_pb2.SynthesizeResponse:
    return synthesizer_pb2.SynthesizeResponse(
        audio_content=chunk.audio, encoding=encoding_pb(chunk.encoding), sample_rate_hertz=chunk.sample_rate_hertz,
        sentence_index=chunk.sentence_index, text=chunk.text, voice=chunk.voice, audio_offset_s=chunk.offset_s)


def synthesis_result_pb(result: t.SynthesisResult) -> synthesizer_pb2.SynthesizeOnceResponse:
    return synthesizer_pb2.SynthesizeOnceResponse(
        audio_content=result.audio, encoding=encoding_pb(result.encoding), sample_rate_hertz=result.sample_rate_hertz,
        container=_CONTAINERS_OUT[result.container], audio_duration_s=result.duration_s, voice=result.voice,
        sentences=result.sentences)


def voice_pb(voice: VoiceInfo, is_default: bool) -> synthesizer_pb2.Voice:
    return synthesizer_pb2.Voice(name=voice.name, language_code=voice.language, sample_rate_hertz=voice.sample_rate,
                                 quality=voice.quality, num_speakers=voice.num_speakers, neural=voice.neural,
                                 engine=voice.engine, speakers=list(voice.speakers), is_default=is_default,
                                 quality_label=voice.label, round_trip_wer=voice.wer)


# -- understanding ----------------------------------------------------------------------------

def understand_request_from_pb(pb: understander_pb2.UnderstandRequest) -> t.UnderstandRequest:
    return t.UnderstandRequest(text=pb.text, language_code=pb.language_code, previous_intent=pb.previous_intent)


def intents_pb(infos: list[IntentInfo], languages: tuple[str, ...]) -> understander_pb2.ListIntentsResponse:
    return understander_pb2.ListIntentsResponse(
        intents=[understander_pb2.IntentInfo(name=i.name, language_codes=list(i.languages), slots=list(i.slots),
                                             description=i.description) for i in infos],
        language_codes=list(languages))


# -- conversation -----------------------------------------------------------------------------

_REPLY_SOURCES = {conversation_pb2.REPLY_SOURCE_UNSPECIFIED: "", conversation_pb2.INTENTS: t.ReplySource.INTENTS.value,
                  conversation_pb2.CLIENT: t.ReplySource.CLIENT.value, conversation_pb2.WEBHOOK: t.ReplySource.WEBHOOK.value,
                  conversation_pb2.NO_REPLY: t.ReplySource.NONE.value}
_REPLY_SOURCES_OUT = {t.ReplySource(v): k for k, v in _REPLY_SOURCES.items() if v}
_PACING = {conversation_pb2.PACING_UNSPECIFIED: t.Pacing.BUFFERED, conversation_pb2.BUFFERED: t.Pacing.BUFFERED,
           conversation_pb2.REALTIME: t.Pacing.REALTIME}


def conversation_config_from_pb(pb: conversation_pb2.ConversationConfig) -> t.ConversationConfig:
    return t.ConversationConfig(
        input_encoding=encoding_name(pb.input_encoding),
        input_sample_rate_hertz=pb.input_sample_rate_hertz,
        output_encoding=encoding_name(pb.output_encoding),
        output_sample_rate_hertz=pb.output_sample_rate_hertz,
        voice=pb.voice,
        language_code=pb.language_code,
        alternative_language_codes=tuple(pb.alternative_language_codes),
        endpointing=endpointing_from_pb(pb.endpointing),
        enable_intent=not pb.disable_intents,
        interim_results=pb.interim_results,
        phrase_hints=tuple(pb.phrase_hints),
        model=pb.model,
        barge_in=t.BargeInConfig(enabled=not pb.barge_in.disabled, min_speech_ms=pb.barge_in.min_speech_ms),
        reply_source=_REPLY_SOURCES.get(pb.reply_source, str(pb.reply_source)),
        greeting=not pb.no_greeting,
        call_id=pb.call_id,
        pacing=_PACING.get(pb.pacing, t.Pacing.BUFFERED),
        output_chunk_ms=pb.output_chunk_ms,
        echo_cancellation=not pb.disable_echo_cancellation,
        turn_detection=pb.turn_detection,
    )


def conversation_input_from_pb(pb: conversation_pb2.ConverseRequest) -> t.ConversationInput | None:
    """A later request as a service input (None for the config, which only comes first)."""
    kind = pb.WhichOneof("request")
    if kind == "audio":
        return t.AudioInput(pb.audio)
    if kind == "flush":
        return t.AudioInput(b"", flush=pb.flush)
    if kind == "reply_text":
        r = pb.reply_text
        return t.ReplyTextInput(r.text, r.end_of_reply, not r.uninterruptible)
    if kind == "cancel_reply":
        return t.CancelReply()
    if kind == "playback_mark":
        return t.PlaybackMark(pb.playback_mark.played_s)
    if kind == "dtmf":
        return t.DtmfInput(pb.dtmf)
    return None


def conversation_event_pb(event: t.ConversationEvent) -> conversation_pb2.ConverseResponse:
    if isinstance(event, (t.SpeechEvent, t.InterimUpdate, RecognitionResult)):
        return conversation_pb2.ConverseResponse(recognition=stream_output_pb(event))
    if isinstance(event, t.ReplyAudio):
        c = event.chunk
        return conversation_pb2.ConverseResponse(reply_audio=conversation_pb2.ReplyAudio(
            reply_id=event.reply_id, audio_content=c.audio, encoding=encoding_pb(c.encoding),
            sample_rate_hertz=c.sample_rate_hertz, audio_offset_s=c.offset_s))
    if isinstance(event, t.ReplyStarted):
        return conversation_pb2.ConverseResponse(reply_started=conversation_pb2.ReplyStarted(
            reply_id=event.reply_id, source=_REPLY_SOURCES_OUT[event.source], interruptible=event.interruptible,
            text=event.text))
    if isinstance(event, t.ReplySpoken):
        return conversation_pb2.ConverseResponse(reply_spoken=conversation_pb2.ReplySpoken(
            reply_id=event.reply_id, text=event.text))
    if isinstance(event, t.BargeIn):
        return conversation_pb2.ConverseResponse(barge_in=conversation_pb2.BargeIn(
            reply_id=event.reply_id, played_s=event.played_s, spoken_text=event.spoken_text,
            speech_onset_s=event.time))
    if isinstance(event, t.ReplyEnded):
        return conversation_pb2.ConverseResponse(reply_ended=conversation_pb2.ReplyEnded(
            reply_id=event.reply_id, interrupted=event.interrupted, played_s=event.played_s,
            spoken_text=event.spoken_text))
    return conversation_pb2.ConverseResponse(dtmf=conversation_pb2.Dtmf(digit=event.digit, time_s=event.time))
