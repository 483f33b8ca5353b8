"""The support range otel_context declares and tests, in one place.

``pyproject.toml`` (dependencies, ``requires-python``, classifiers), the README's support table,
the test matrix (``noxfile.py``) and the start-up version check all state this same range; the
tests hold them to it.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = ["SUPPORTED", "Range"]


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
