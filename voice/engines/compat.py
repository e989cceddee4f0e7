"""What the compat modules (:mod:`.fw_compat`, :mod:`.piper_compat`) share: how a check reports."""

from __future__ import annotations

import logging

_LOGGER = logging.getLogger(__name__)


def report(module: str, library: str, version: str, tested: tuple[str, ...], missing: list[str],
           error: type[Exception]) -> None:
    """Raise ``error`` naming ``module`` when internals are ``missing``; warn when ``version`` is
    not one of the ``tested`` releases (major.minor) but everything used is there."""
    if missing:
        raise error(f"{module}: {library} {version} lacks {', '.join(missing)} "
                    f"(checked with {', '.join(tested)}); update {module.replace('.', '/')}.py")
    if not any(version == t or version.startswith(t + ".") for t in tested):
        _LOGGER.warning("%s %s is not a release %s was checked with (%s); every internal it uses is present",
                        library, version, module, ", ".join(tested))
