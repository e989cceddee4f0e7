"""Small intent domains built in code, shared by the intent tests in tests/unit and
tests/integration (the engine's internals on one side, trained models on the other)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voice.engines.intent.corpus import Domain


def timer_domain() -> Domain:
    """Timers and lights in English: two number lists side by side, and room names that
    share words ("on" in "on air studio") with the templates' plain words."""
    from voice.engines.intent.domainfile import domain_from_dict

    return domain_from_dict({
        "name": "timers",
        "intents": {
            "add_time": {"sentences": {"en": [
                "add {minutes} minutes to my {start_minutes} minute timer",
                "add {minutes} minutes to the timer in the {room}",
                "put {minutes} more minutes on the {room} timer",
            ]}},
            "start_timer": {"sentences": {"en": [
                "start a {minutes} minute timer [in the {room}]",
                "set a timer for {minutes} minutes",
                "countdown",
            ]}},
            "lights_on": {"sentences": {"en": ["turn on the lights in the {room}", "(lights|light) on"]}},
        },
        "lists": {
            "minutes": {"type": "number", "range": {"from": 1, "to": 100}},
            "start_minutes": {"type": "number", "range": {"from": 1, "to": 100}},
            "room": {"values": {"en": ["kitchen", "living room", "bedroom", "on air studio"]}},
        },
    }, "timers.yaml")
