"""The intent result on the gRPC wire (``voice.v1.UnderstandResponse``): every field of
:class:`IntentResult` is carried, ``unavailable_slots`` included."""

from __future__ import annotations

from voice_api.v1 import understander_pb2

from voice.api.grpc.mapping import intent_pb
from voice.core.intents import IntentResult, Slot


def test_an_intent_result_maps_to_the_wire_with_its_unavailable_slots():
    result = IntentResult("transfer_money", 0.875, (Slot("amount", "300", 16, 19),),
                          (("check_balance", 0.0625),), ("account",))
    pb = understander_pb2.UnderstandResponse.FromString(intent_pb(result).SerializeToString())
    assert (pb.intent, pb.confidence) == ("transfer_money", 0.875)
    assert [(s.name, s.value, s.start, s.end) for s in pb.slots] == [("amount", "300", 16, 19)]
    assert [(a.intent, a.confidence) for a in pb.alternatives] == [("check_balance", 0.0625)]
    assert list(pb.unavailable_slots) == ["account"]


def test_a_result_with_every_slot_filled_names_none_unavailable():
    pb = intent_pb(IntentResult("check_balance", 0.5, (Slot("account", "savings", 0, 7),)))
    assert list(pb.unavailable_slots) == []
