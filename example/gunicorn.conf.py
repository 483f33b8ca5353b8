# ruff: noqa: N999 - gunicorn looks for this conventional file name
"""gunicorn settings of the example service.

Run from the repository root: ``gunicorn -c example/gunicorn.conf.py``.

Environment:
    EXAMPLE_BIND: address to listen on (default ``127.0.0.1:8000``; ``fd://N`` for a passed socket).
    EXAMPLE_WORKERS, EXAMPLE_THREADS: gthread workers and threads per worker (default 2 and 4).
    EXAMPLE_SPAN_FILE: file the finished spans are appended to, one JSON line each (default stdout).
    OTEL_EXPORTER_OTLP_ENDPOINT: also export spans over OTLP, if an OTLP exporter is installed.

Each worker sets up its own ``TracerProvider`` in ``post_fork`` (``example/tracing.py``): a
BatchSpanProcessor's export thread does not survive a fork, so one created in the master would
never export. The worker shuts the provider down on exit so queued spans are written.
"""

from __future__ import annotations

import gc
import os
from typing import TYPE_CHECKING, Any

from example.tracing import setup_tracing, shutdown

if TYPE_CHECKING:
    from otel_context.sdk import Providers

wsgi_app = "example.wsgi:application"
bind = [os.environ.get("EXAMPLE_BIND") or "127.0.0.1:8000"]
worker_class = "gthread"
workers = int(os.environ.get("EXAMPLE_WORKERS") or 2)
threads = int(os.environ.get("EXAMPLE_THREADS") or 4)
# A worker gets this long to finish requests and flush spans after SIGTERM.
graceful_timeout = int(os.environ.get("EXAMPLE_GRACEFUL_TIMEOUT") or 10)
proc_name = "otel-context-example"
# gunicorn >= 25 opens a control socket at one per-user path: two servers would collide.
control_socket_disable = True
# One header line may be 8,190 bytes by default: a W3C-sized baggage header (8,192 bytes, plus
# "baggage: ") gets 431 before the app sees it. 16 KiB leaves room for that line alone.
limit_request_field_size = 16384

_provider: Providers | None = None


def post_fork(server: Any, worker: Any) -> None:
    global _provider  # noqa: PLW0603 - one provider per worker process
    _provider = setup_tracing(warn=server.log.warning, shutdown_on_exit=False)


def post_worker_init(worker: Any) -> None:
    # Django, OTel and the app are loaded: keep their objects out of the collector's full scans,
    # which otherwise stall requests while queued spans pile up (see the reference notes).
    gc.freeze()


def _shutdown() -> None:
    global _provider
    providers, _provider = _provider, None
    shutdown(providers)  # bounded: gunicorn would kill a worker blocked ~30 s on a dead collector


def worker_int(worker: Any) -> None:
    _shutdown()


def worker_exit(server: Any, worker: Any) -> None:
    _shutdown()
