"""WSGI entry point for uWSGI: ``uwsgi --ini example/uwsgi.ini`` (see that file).

Each worker process sets up its own ``TracerProvider`` after the fork, as gunicorn's
``post_fork`` does: span processors and exporters hold threads, locks and connections (an
OTLP/gRPC channel) that are not made to cross a fork, and uWSGI forks in C, so the SDK's
``os.register_at_fork`` hooks do not run (unless ``py-call-osafterfork``). Both uWSGI modes:

- ``lazy-apps = true`` (what ``example/uwsgi.ini`` does, like gunicorn without ``preload_app``):
  each worker imports this module after the fork, so the provider is created right here.
- ``lazy-apps = false`` (uWSGI's default: the app is loaded once in the master, then forked):
  this module runs in the master, where ``uwsgi.worker_id()`` is 0, and registers the set-up
  with ``uwsgidecorators.postfork`` instead, the route the OpenTelemetry docs show for uWSGI.

Queued spans are flushed in ``uwsgi.atexit``, which uWSGI calls when a worker exits: on SIGTERM
(which the ini makes the graceful shutdown), a master FIFO's ``q``, or SIGINT. uWSGI skips it
for a worker still busy with a request (SIGINT, ``die-on-term``): that worker's queued spans
are lost, so stop gracefully.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
from typing import TYPE_CHECKING

import uwsgi  # type: ignore[import-untyped]  # exists only inside a uWSGI process

from example.tracing import setup_tracing, shutdown

if TYPE_CHECKING:
    from otel_context.sdk import Providers

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")

_provider: Providers | None = None
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP}


def _shutdown() -> None:
    global _provider
    # A second stop signal would re-enter uWSGI's handler, which calls exit() again mid-flush.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    providers, _provider = _provider, None
    shutdown(providers)  # flushes, within 5 s even with the collector down


def _setup_worker() -> None:
    global _provider  # noqa: PLW0603 - one provider per worker process
    # uWSGI's stop signals must reach the main thread: a worker exits from its signal handler,
    # and one that runs on the export thread cannot join that thread to flush. Two signals at
    # once (Ctrl-C or systemd signal the master and every worker) make that happen. A thread
    # inherits its creator's signal mask, so the export thread is started with them blocked.
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        _provider = setup_tracing(warn=logging.getLogger(__name__).warning, shutdown_on_exit=False)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    uwsgi.atexit = _shutdown


if uwsgi.worker_id() == 0:  # loaded in the master (lazy-apps off): set up after each fork
    import uwsgidecorators  # type: ignore[import-untyped]

    uwsgidecorators.postfork(_setup_worker)
else:
    _setup_worker()

from example.wsgi import application  # noqa: E402 - the provider first, then Django

# Django, OTel and the app are loaded: keep their objects out of the collector's full scans,
# as gunicorn's post_worker_init does (see the reference notes on gc.freeze()).
gc.freeze()

__all__ = ["application"]
