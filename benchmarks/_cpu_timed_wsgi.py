"""``example.wsgi``'s application, answering with the CPU time its thread spent on the request.

Figure D′ serves every configuration through this wrapper. It times the whole Django call
(every middleware, the OTel span's start and end, the view, the log lines) with
``time.thread_time_ns()`` and answers with ``Server-Timing: cpu;dur=<ms>``: the request's own
CPU work, without the time its thread waited for a CPU. Latency percentiles include the
machine's scheduling stalls; these do not. The real ``start_response`` is called once the
call returns (PEP 3333 allows it up to the first body chunk), so the header can carry the
figure. Django's ``WSGIHandler`` never uses the ``write`` callable.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from example.wsgi import application as django_application

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["HEADER", "application"]

HEADER = "Server-Timing"


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Call Django; answer with its response and the call's thread CPU time."""
    started = time.thread_time_ns()
    answer: list[Any] = []

    def deferred(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer[:] = [status, headers, exc_info]
        return lambda _data: None  # pragma: no cover - Django does not write

    body = django_application(environ, deferred)
    spent = time.thread_time_ns() - started
    status, headers, exc_info = answer
    start_response(status, [*headers, (HEADER, f"cpu;dur={spent / 1e6:.4f}")], exc_info)
    return body
