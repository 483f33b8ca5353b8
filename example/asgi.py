"""ASGI entry point: ``uvicorn example.asgi:application`` (tracing needs otel_context[asgi]).

uvicorn has no ``post_fork`` hook, so the ``TracerProvider`` is set up here, once per process
that imports the application, before Django builds its handler. Queued spans are flushed on
the ASGI lifespan shutdown: uvicorn ends by re-raising the SIGTERM it caught, so ``atexit``
handlers never run. Django's handler does not speak lifespan, so this module answers it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.core.asgi import get_asgi_application

from example.tracing import setup_tracing, shutdown

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")

provider = setup_tracing(warn=logging.getLogger(__name__).warning, shutdown_on_exit=True)
django_application = get_asgi_application()


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await asyncio.to_thread(shutdown, provider)  # flushes, within 5 s
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope: Message, receive: Receive, send: Send) -> None:
    """Django's ASGI application, plus the lifespan protocol for the span flush."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    else:
        await django_application(scope, receive, send)
