"""Fixtures for the migration recipes: their URLs, middleware lists and captured lines."""

from __future__ import annotations

import gc
import io
import logging
import weakref
from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth import get_user_model
from django.core.signals import got_request_exception
from django.test import Client

from tests.migrating.views import LINE_FORMAT

if TYPE_CHECKING:
    from collections.abc import Iterator

OTEL_MIDDLEWARE = (
    "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"
)
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
IDENTIFIERS_MIDDLEWARE = "otel_context.django.middleware.IdentifiersMiddleware"


def middleware(*, first: tuple[str, ...] = (), after_auth: tuple[str, ...] = ()) -> list[str]:
    """The test project's middleware with *first* after OTel's and *after_auth* after auth."""
    return [
        OTEL_MIDDLEWARE,
        *first,
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        AUTH_MIDDLEWARE,
        IDENTIFIERS_MIDDLEWARE,
        *after_auth,
    ]


@pytest.fixture(autouse=True)
def _no_peer_receivers_left() -> Iterator[None]:
    """Disconnect what a peer's middleware left on ``got_request_exception``.

    django-structlog's ``RequestMiddleware`` connects its instance to the signal in
    ``__init__``; the weak reference lives until the garbage collector frees the test
    client's handler, so without this a later test's 500 logged its ``request_failed``
    whenever no collection ran in between.
    """
    yield
    gc.collect()
    for receiver in peer_receivers():
        got_request_exception.disconnect(receiver)
    assert not peer_receivers()


def peer_receivers() -> list[Any]:
    """django-structlog's bound methods still connected to ``got_request_exception``."""
    found = []
    for entry in got_request_exception.receivers:
        held = entry[1]
        receiver = held() if isinstance(held, weakref.ref) else held
        owner = getattr(receiver, "__self__", None)
        if owner is not None and type(owner).__module__.startswith("django_structlog"):
            found.append(receiver)
    return found


@pytest.fixture
def migrating_urls(settings: Any) -> None:
    """The recipes' views (tests/migrating/views.py) as the URLconf."""
    settings.ROOT_URLCONF = "tests.migrating.views"


@pytest.fixture
def alice(db: None) -> Any:
    """A user; ``logged_in(alice)`` gives a client with a session."""
    return get_user_model().objects.create_user("alice", password="pw")  # noqa: S106


def logged_in(user: Any) -> Client:
    """A new client (so the handler builds today's middleware) logged in as *user*."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def stdlib_lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """The ``tests.migrating`` stdlib logger writing ``LINE_FORMAT`` lines to a buffer.

    The test adds the filter of the set-up it exercises to ``logger.handlers[0]``.
    """
    logger = logging.getLogger("tests.migrating")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter(LINE_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)
    logger.propagate = True
