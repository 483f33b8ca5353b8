"""Correlation ids: read from a request header, validated, or generated.

A client-supplied id is accepted only in a safe shape: UUIDs (any version), 32-hex ids (nginx
``$request_id``), W3C trace ids and opaque tokens of ``[A-Za-z0-9._:-]`` up to 128 characters.
Anything else is replaced by a generated id; the raw value is never logged or echoed.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import random
import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

_logger = logging.getLogger(__name__)

_SAFE_TOKEN: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
#: Even a trusted proxy's value must be a legal, bounded header value (no CR/LF, no controls).
_HEADER_SAFE: Final = re.compile(r"[\x21-\x7e]{1,1024}")


def is_valid(value: str) -> bool:
    """Whether a client-supplied correlation id may be used as is."""
    return _SAFE_TOKEN.fullmatch(value) is not None


def random_id() -> str:
    """The default correlation id: 128 random bits as 32 lower-case hex digits.

    The same shape as nginx's ``$request_id`` and a W3C trace id, drawn as the OTel SDK draws
    trace ids (``random.getrandbits``, reseeded in each forked worker). Not ``os.urandom``: its
    system call releases the GIL, and a request thread then waits for it to come back, up to
    the 5 ms switch interval when other threads are busy (measured: ~470 µs per call with
    three busy threads, against ~0.4 µs). A correlation id is not a secret: never use one as
    a token.
    """
    return random.getrandbits(128).to_bytes(16).hex()  # f"{...:032x}" without a format spec


def generate(generator: Callable[[], str] | None = None) -> str:
    """A new correlation id from *generator*, falling back to :func:`random_id` if it misbehaves."""
    if generator is not None and generator is not random_id:
        try:
            value = generator()
        except Exception:
            _logger.exception("otel_context: CORRELATION_ID_GENERATOR raised; using a random id")
        else:
            if isinstance(value, str) and is_valid(value):
                return value
            _logger.error("otel_context: CORRELATION_ID_GENERATOR returned an unusable value")
    return random_id()


def accept(raw: str | None, *, trusted: bool = False) -> str | None:
    """*raw* if it may be used as the correlation id, else ``None``."""
    if not raw:
        return None
    value = raw.strip()
    if trusted:
        return value if _HEADER_SAFE.fullmatch(value) else None
    return value if is_valid(value) else None


def from_headers(
    get_header: Callable[[str], str | None],
    names: Iterable[str],
    *,
    trusted: bool = False,
    generator: Callable[[], str] | None = None,
) -> tuple[str, str | None]:
    """The correlation id and the header it came in (``None`` when generated).

    The first of *names* present wins. A present but invalid value is replaced by a generated
    id and still reports its header, so the response echoes the new id where the client looks.
    """
    for name in names:
        raw = get_header(name)
        if raw is None:
            continue
        value = accept(raw, trusted=trusted)
        return (value if value is not None else generate(generator)), name
    return generate(generator), None
