"""The support range otel_context declares and tests, in one place.

``pyproject.toml`` (dependencies, ``requires-python``, classifiers), the README's support table,
the test matrix (``noxfile.py``) and the start-up version check all state this same range; the
tests hold them to it.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import importlib.metadata
import platform
from typing import Final, NamedTuple

__all__ = [
    "SUPPORTED",
    "Range",
    "install_hint",
    "installed_version",
    "out_of_range",
    "supported_range",
]


class Range(NamedTuple):
    """A supported range of one distribution: ``floor`` included, ``ceiling`` excluded."""

    distribution: str
    floor: str
    ceiling: str

    @property
    def specifier(self) -> str:
        """The range as a PEP 440 specifier, as ``pyproject.toml`` writes it."""
        return f">={self.floor},<{self.ceiling}"


SUPPORTED: Final[dict[str, Range]] = {
    "python": Range("python", "3.11", "3.14"),
    "django": Range("django", "5.2", "6.2"),
    "structlog": Range("structlog", "24.4", "27"),
    "opentelemetry-api": Range("opentelemetry-api", "1.40", "2"),
    "opentelemetry-sdk": Range("opentelemetry-sdk", "1.40", "2"),
    # contrib's 0.x beta train that goes with API/SDK 1.40 and later
    "opentelemetry-instrumentation-django": Range(
        "opentelemetry-instrumentation-django", "0.61b0", "1"
    ),
}

#: Each contrib instrumentation otel_context reads follows the Django instrumentation's train.
_CONTRIB_PREFIX: Final = "opentelemetry-instrumentation-"


def supported_range(distribution: str) -> Range | None:
    """The declared range of *distribution*: contrib instrumentations share Django's."""
    if distribution in SUPPORTED:
        return SUPPORTED[distribution]
    if distribution.startswith(_CONTRIB_PREFIX):
        return SUPPORTED["opentelemetry-instrumentation-django"]._replace(distribution=distribution)
    return None


def installed_version(distribution: str) -> str | None:
    """The installed version of *distribution* (``"python"``: the interpreter), else None.

    The one place that reads versions: tests replace it to play an unsupported release.
    """
    if distribution == "python":
        return platform.python_version()
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def install_hint(distribution: str, extra: str) -> str:
    """A ``pip install`` command for what otel-context's *extra* brings, that works today.

    otel-context is not on a package index yet, so installing it with an extra finds nothing
    (issue 21). The package the extra brings does, pinned to the release train installed next to
    it: an exporter to the SDK's version, an instrumentation to the Django instrumentation's.

    Args:
        distribution: The package the extra brings, e.g. ``opentelemetry-instrumentation-asgi``.
        extra: The extra's name, e.g. ``asgi``.

    Returns:
        E.g. ``pip install 'opentelemetry-instrumentation-asgi==0.66b1' (otel-context's [asgi]
        extra)``; unpinned when the train's package is not installed.

    .. versionadded:: 0.1.0
    """
    exporter = distribution.startswith("opentelemetry-exporter-")
    train = "opentelemetry-sdk" if exporter else "opentelemetry-instrumentation-django"
    version = installed_version(train)
    pin = f"=={version}" if version else ""
    return f"pip install '{distribution}{pin}' (otel-context's [{extra}] extra)"


def _position(supported: Range, installed: str) -> str | None:
    # packaging comes with opentelemetry-instrumentation; only the checks need it
    from packaging.version import InvalidVersion, Version  # noqa: PLC0415

    try:
        version = Version(installed)
    except InvalidVersion:
        return None  # a local build we cannot compare: say nothing rather than guess
    if version < Version(supported.floor):
        return "older"
    # a ceiling of "6.2" excludes 6.2a1 too: the next release line is untested from its first
    if version >= Version(supported.ceiling + ".dev0"):
        return "newer"
    return None


def out_of_range() -> list[tuple[Range, str, str]]:
    """Each installed distribution of :data:`SUPPORTED` outside its range.

    Returns:
        ``(range, installed version, "older" or "newer")`` for each, in ``SUPPORTED`` order.
    """
    found = []
    for supported in SUPPORTED.values():
        installed = installed_version(supported.distribution)
        position = _position(supported, installed) if installed else None
        if position is not None and installed is not None:
            found.append((supported, installed, position))
    return found
