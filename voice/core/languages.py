"""Language codes, in one place: BCP-47 tags from clients, base codes for models, and the
policy that picks a stream's language among its candidates. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# the declared language wins unless another candidate is this many times more likely
DECLARED_LANGUAGE_MARGIN = 2.0


def normalize_bcp47(code: str | None) -> str:
    """A client's tag in BCP-47 form: separators as "-", stripped ("pt_BR " -> "pt-BR"); "" if none."""
    return (code or "").strip().replace("_", "-")


def base_language(code: str | None) -> str:
    """The lower-case primary subtag ("en-US", "pt_BR" -> "en", "pt"); "" when empty."""
    return normalize_bcp47(code).split("-")[0].lower()


def normalize_language(code: str | None) -> str | None:
    """A client's tag as a model language code ("en-US" -> "en"); empty -> None (detect)."""
    return base_language(code) or None


def same_language(a: str, b: str) -> bool:
    """Do two tags name the same language ("en-US" vs "en", "de_DE" vs "de-de")?"""
    return base_language(a) == base_language(b)


def resolve_language(code: str, available: Sequence[str]) -> str | None:
    """Best of ``available`` for a tag: exact (case- and separator-insensitive), then its base."""
    if not code:
        return None
    lowered = {a.lower(): a for a in available}
    norm = normalize_bcp47(code).lower()
    if norm in lowered:
        return lowered[norm]
    return lowered.get(base_language(code))


def pick_language(probs: Mapping[str, float], candidates: tuple[str, ...], declared: str | None) -> str:
    """Most likely candidate language; the declared one is kept unless clearly beaten."""
    best = max(candidates, key=lambda c: probs.get(c, 0.0))
    if declared and declared in candidates and probs.get(best, 0.0) < DECLARED_LANGUAGE_MARGIN * probs.get(declared, 0.0):
        return declared
    return best
