"""A small Flask app the Flask tests drive, in process and under gunicorn.

It trusts an ``X-User`` header as its "authentication": a test app, so the load test can give
every request its own user. Spoofed ``baggage`` is never trusted.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from typing import Any

import flask
import structlog
from opentelemetry import baggage, trace

import otel_context
from otel_context.flask import instrument_app
from tests._w3c_service import call_back

log = structlog.get_logger("tests.flask.views")
stdlib_log = logging.getLogger("tests.flask.views")

#: Lines each ``/orgs/<organisation_pk>/items/<item_id>`` request writes: 3 events, 1 record.
LINES_PER_ITEM_REQUEST = 4


def user_from_header(request: flask.Request) -> str | None:
    """``user.id``: the ``X-User`` header, else a user the view signed in (``g.late_user``)."""
    return request.headers.get("X-User") or flask.g.get("late_user")


def tenant_from_header(request: flask.Request) -> str | None:
    """``tenant.id`` from ``X-Tenant``; the value ``boom`` makes the resolver raise."""
    tenant = request.headers.get("X-Tenant")
    if tenant == "boom":
        msg = "resolver failed on purpose"
        raise RuntimeError(msg)
    return tenant


def environment_by_key(key: str) -> dict[str, str] | None:
    """A URL-kwarg lookup returning two ids; ``broken`` makes it raise."""
    if key == "broken":
        msg = "lookup failed on purpose"
        raise LookupError(msg)
    number = key.removeprefix("env-")
    return {"environment.id": number, "project.id": f"p-{number}"}


OPTIONS: dict[str, Any] = {
    "resolvers": {"user.id": user_from_header, "tenant.id": tenant_from_header},
    "url_kwargs": {
        "organisation_pk": "organisation.id",
        "item_id": "item.id",
        "environment_key": {"lookup": environment_by_key},
    },
}


def _state() -> flask.Response:
    return flask.jsonify(
        identifiers=otel_context.get_identifiers(), baggage=dict(baggage.get_all())
    )


def _service_call() -> None:
    """A function deep in the stack that receives no ids."""
    log.info("service.called")


def _routes(app: flask.Flask) -> None:  # noqa: C901, PLR0915 - a list of small views
    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    @app.get("/plain")
    def plain() -> flask.Response:
        log.info("view.start")
        _service_call()
        return _state()

    @app.get("/orgs/<int:organisation_pk>/items/<item_id>")
    def item(organisation_pk: int, item_id: str) -> flask.Response:
        log.info("item.requested")
        _service_call()
        stdlib_log.info("item.stdlib")
        log.info("item.done")
        return _state()

    @app.get("/environments/<environment_key>")
    def environment(environment_key: str) -> flask.Response:
        log.info("view.environment")
        return _state()

    @app.get("/raises")
    def raises() -> flask.Response:
        log.info("view.before_raise")
        msg = "view failed on purpose"
        raise RuntimeError(msg)

    @app.get("/late")
    def late() -> flask.Response:
        log.info("view.anonymous")
        flask.g.late_user = "late-7"  # what an auth decorator around the view would do
        log.info("view.signed_in")
        return _state()

    @app.get("/bind")
    def binds() -> flask.Response:
        otel_context.bind(order__id="o-1")
        log.info("view.bound")
        return _state()

    @app.get("/child")
    def child() -> str:
        with trace.get_tracer("tests").start_as_current_span("child"):
            log.info("view.in_child")
        log.info("view.after_child")
        return "ok"

    @app.get("/copied-context")
    def copied_context() -> flask.Response:
        @flask.copy_current_request_context
        def in_thread() -> None:
            log.info("thread.ran")

        worker = threading.Thread(target=in_thread)
        worker.start()
        worker.join()
        log.info("view.after_thread")
        return _state()

    @app.get("/stream")
    def stream() -> flask.Response:
        def body() -> Iterator[str]:
            log.info("stream.body", path=flask.request.path)
            yield "streamed"

        log.info("view.stream")
        return flask.Response(flask.stream_with_context(body()))

    @app.get("/stream-plain")
    def stream_plain() -> flask.Response:
        def body() -> Iterator[str]:
            for index in range(3):
                log.info("stream.chunk", index=index)
                yield f"chunk {index}\n"

        return flask.Response(body())

    @app.get("/aborts")
    def aborts() -> flask.Response:
        flask.abort(404)

    @app.get("/download")
    def download() -> flask.Response:
        return flask.send_file(io.BytesIO(b"file bytes"), download_name="report.txt")

    @app.get("/sets-header")
    def sets_header() -> flask.Response:
        """Sets its own id: header ``?name=`` (``correlation-id``) to ``?value=``."""
        log.info("view.sets_header")
        response = _state()
        name = flask.request.args.get("name", "correlation-id")
        response.headers[name] = flask.request.args.get("value", "set-by-the-view")
        return response


def _harness_route(app: flask.Flask) -> None:
    @app.post("/w3c/test")
    def w3c_harness() -> flask.Response:
        """The W3C Trace Context harness endpoint (see tests/_w3c_service.py)."""
        return flask.jsonify(calls=call_back(flask.request.get_data()))


def create_app(**options: Any) -> flask.Flask:
    """The test app, instrumented with :data:`OPTIONS` updated by *options*."""
    app = flask.Flask(__name__)
    _routes(app)
    _harness_route(app)
    instrument_app(app, **{**OPTIONS, **options})
    return app
