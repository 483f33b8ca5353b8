"""Figure A″ worker: per-event instructions inside a real Django request, lazy user bound late.

Run under ``valgrind --tool=callgrind --dump-before=os_getppid`` as ``python -m
benchmarks._request_event_worker N [WARMUP]``. Figure B's otel_context set-up (DjangoInstrumentor
through ``INSTALLED_APPS``, sessions and auth middleware) with a session-authenticated user
in an in-memory database. The view logs one event, then touches ``request.user`` (the lazy
user loads and ``user.id`` binds late: otel_context's hook on the load binds it as it loads),
then logs E more. For each pipeline (bare, the floor processor: constants, the derivation
floor: the same values found in the context, ``StructlogOTelProcessor``) it runs N requests
with E = 0 and N with E = 10, each block between dump markers: (block with 10 - block with 0)
/ 10N is one event, the per-event user check included.

``N [WARMUP] --inner`` counts the events alone: per pipeline, N requests with E = 10, each
calling the dump marker right before its E events and right after them. The segments between
those markers hold the events (the per-event user check and the first event's cache included)
and nothing of the request around them: no database query, session or span work whose
collections and memory layout move a difference of whole requests by thousands of
instructions an event. The user's load, and otel_context's bind as it loads, come before.
"""

from __future__ import annotations

import io
import json
import os
import sys
from typing import TYPE_CHECKING, Any

import structlog
from django.http import HttpRequest, HttpResponse
from django.urls import path
from opentelemetry import context

from benchmarks._event_variants import DERIVED_KEY, add_derived_fields

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from django.core.handlers.wsgi import WSGIHandler

PIPELINES = ("bare", "floor", "derived", "otel_context")
EXTRA_EVENTS = 10
_extra = [0]
_inner = [False]
log = structlog.get_logger("benchmarks.request_events")
#: What otel_context adds in this view, as constants: the floor.
FLOOR_FIELDS: dict[str, object] = {
    "trace_id": "0" * 31 + "1",
    "span_id": "0" * 15 + "1",
    "trace_sampled": True,
    "correlation.id": "0" * 32,
    "organisation.id": "7",
    "project.id": "12",
    "user.id": "1",
}


def project(request: HttpRequest, organisation_pk: int, project_pk: str) -> HttpResponse:
    """One event before the user is loaded, then the user, then E events."""
    log.info("project.requested", organisation=organisation_pk)
    if not request.user.is_authenticated:  # loads the session's user: user.id binds late
        return HttpResponse(b"anonymous", status=403)
    # the derivation floor's ids, as a load hook would leave them: in the context, user included
    token = context.attach(context.set_value(DERIVED_KEY, derived_ids(request, project_pk)))
    try:
        if _inner[0]:
            os.getppid()  # the dump marker: the events begin
        for _ in range(_extra[0]):
            log.info("project.loaded", path="/orgs/7/projects/12/", status=200)
        if _inner[0]:
            os.getppid()  # the events end
    finally:
        context.detach(token)
    return HttpResponse(b"ok", content_type="text/plain")


def derived_ids(request: HttpRequest, project_pk: str) -> dict[str, object]:
    """The request's ids for the derivation floor (built before the events are counted)."""
    return {
        "correlation.id": request.META.get("HTTP_CORRELATION_ID", "0" * 32),
        "organisation.id": str(request.resolver_match.kwargs["organisation_pk"]),
        "project.id": project_pk,
        "user.id": str(request.user.pk),
    }


urlpatterns = [path("orgs/<int:organisation_pk>/projects/<str:project_pk>/", project)]


def add_floor_fields(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """The floor: the same fields as constants."""
    event_dict.update(FLOOR_FIELDS)
    return event_dict


def setup() -> tuple[WSGIHandler, dict[str, Any]]:
    """Django, tracing, a user with a session; the handler and the environ carrying its cookie."""
    import django  # noqa: PLC0415
    from django.conf import settings  # noqa: PLC0415
    from django.core.handlers.wsgi import WSGIHandler  # noqa: PLC0415
    from opentelemetry import trace  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    from benchmarks import _wsgi_worker as worker  # noqa: PLC0415
    from benchmarks._site import settings_for  # noqa: PLC0415

    settings.configure(**{**settings_for("otel_context"), "ROOT_URLCONF": __name__})
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(worker.DropExporter()))
    trace.set_tracer_provider(provider)
    django.setup()  # "otel_context" in INSTALLED_APPS instruments Django here
    handler = WSGIHandler()
    from django.contrib.auth import get_user_model  # noqa: PLC0415
    from django.contrib.sessions.backends.db import SessionStore  # noqa: PLC0415
    from django.core.management import call_command  # noqa: PLC0415

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="not-secret")
    session = SessionStore()
    session.update(
        {
            "_auth_user_id": str(user.pk),
            "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
            "_auth_user_hash": user.get_session_auth_hash(),
        }
    )
    session.save()
    environ = worker.base_environ()
    environ["HTTP_COOKIE"] = f"{settings.SESSION_COOKIE_NAME}={session.session_key}"
    return handler, environ


def configure(pipeline: str, stream: Any) -> None:
    """The bare pipeline, plus the floor's or otel_context's processor."""
    from otel_context import StructlogOTelProcessor  # noqa: PLC0415

    extra = {
        "bare": [],
        "floor": [add_floor_fields],
        "derived": [add_derived_fields],
        "otel_context": [StructlogOTelProcessor()],
    }
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *extra[pipeline],
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def check(handler: WSGIHandler, environ: dict[str, Any], pipeline: str) -> list[str]:
    """One request with *pipeline*'s processor: every event after the user has user.id."""
    from benchmarks._wsgi_worker import request  # noqa: PLC0415

    stream = io.StringIO()
    configure(pipeline, stream)
    _extra[0] = 2
    response = request(handler, environ)
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    found = [] if response.status_code == 200 else [f"status {response.status_code}"]
    late = [e for e in events if e["event"] == "project.loaded"]
    found += [] if len(late) == 2 else [f"{len(late)} late events"]
    found += [f"late event without user.id: {e}" for e in late if e.get("user.id") is None]
    traced = events if pipeline == "otel_context" else late  # the floor's: once attached
    found += [f"no trace_id: {e}" for e in traced if "trace_id" not in e]
    return [f"{pipeline}: {problem}" for problem in found]


def main(argv: list[str]) -> int:
    """Check, warm up, then the marked blocks: per pipeline, E = 0 then E = 10."""
    from benchmarks._wsgi_worker import request  # noqa: PLC0415

    inner = "--inner" in argv
    argv = [arg for arg in argv if arg != "--inner"]
    count, warmup = int(argv[0]), int(argv[1]) if len(argv) > 1 else 100
    handler, environ = setup()
    problems = [*check(handler, environ, "derived"), *check(handler, environ, "otel_context")]
    if problems:
        print(problems, file=sys.stderr)
        return 1
    with open(os.devnull, "w") as devnull:  # noqa: PTH123
        for pipeline in PIPELINES:
            configure(pipeline, devnull)
            _extra[0] = EXTRA_EVENTS
            for _ in range(warmup):
                request(handler, environ)
        if inner:
            _inner[0], _extra[0] = True, EXTRA_EVENTS
            for pipeline in PIPELINES:
                configure(pipeline, devnull)
                os.getppid()  # the pipeline's first request begins
                for _ in range(count):
                    request(handler, environ)
            os.getppid()
            return 0
        for pipeline in PIPELINES:
            configure(pipeline, devnull)
            for extra in (0, EXTRA_EVENTS):
                _extra[0] = extra
                os.getppid()  # the dump marker
                for _ in range(count):
                    request(handler, environ)
        os.getppid()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
