"""Per-stream endpointing over the server defaults (voice.service.recognition.endpointing_options)."""

import pytest

from voice.config import EndpointingDefaults
from voice.core.errors import InvalidArgument
from voice.service.recognition import endpointing_options
from voice.service.types import EndpointingRequest


def test_unset_fields_keep_the_server_defaults():
    defaults = EndpointingDefaults(trailing_silence_ms=700, pre_roll_ms=250)
    assert endpointing_options(EndpointingRequest(), defaults) == defaults


def test_pre_roll_is_per_stream_and_zero_is_a_value():
    defaults = EndpointingDefaults(pre_roll_ms=300)
    assert endpointing_options(EndpointingRequest(pre_roll_ms=120), defaults).pre_roll_ms == 120
    assert endpointing_options(EndpointingRequest(pre_roll_ms=0), defaults).pre_roll_ms == 0


def test_out_of_range_pre_roll_names_the_field():
    with pytest.raises(InvalidArgument) as err:
        endpointing_options(EndpointingRequest(pre_roll_ms=5000), EndpointingDefaults())
    assert "config.endpointing.pre_roll_ms" in str(err.value)
