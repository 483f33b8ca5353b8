"""Views the unit tests drive through the real Django handler and DjangoInstrumentor."""

from __future__ import annotations

import structlog
from django.contrib.auth import get_user_model, login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from opentelemetry import trace

import otel_context

log = structlog.get_logger("tests.views")


def _service_call() -> None:
    """A function deep in the stack that receives no ids."""
    log.info("service.called")


def plain(request: HttpRequest, **kwargs: object) -> HttpResponse:
    log.info("view.start")
    _service_call()
    return JsonResponse({"identifiers": otel_context.get_identifiers()})


def refuses(request: HttpRequest, **kwargs: object) -> HttpResponse:
    """Returns (does not raise) a 401: Django logs it after the middleware chain."""
    log.info("view.refusing")
    return HttpResponse(status=401)


def whoami(request: HttpRequest, **kwargs: object) -> HttpResponse:
    user = request.user  # touching the user loads the session
    log.info("view.whoami", authenticated=user.is_authenticated)
    return JsonResponse({"identifiers": otel_context.get_identifiers()})


def login_as(request: HttpRequest, username: str) -> HttpResponse:
    user = get_user_model().objects.get(username=username)
    login(request, user)
    log.info("view.logged_in")
    return HttpResponse("ok")


def user_changes(request: HttpRequest, username: str) -> HttpResponse:
    """One line per state of ``request.user``: unloaded, loaded, replaced by login, logged out."""
    log.info("user.unloaded")
    _ = request.user.is_authenticated  # the session's user loads now
    log.info("user.loaded")
    login(request, get_user_model().objects.get(username=username))
    log.info("user.switched")
    logout(request)
    log.info("user.gone")
    return HttpResponse("ok")


def user_loads(request: HttpRequest) -> HttpResponse:
    """Load the user without logging: is ``user.id`` bound as the load returns?

    The span gets the request's identifiers at the response; until then it has none.
    """
    before = repr(request.user)  # an unloaded SimpleLazyObject shows its load function
    _ = request.user.is_authenticated  # the session's user loads now
    attributes = getattr(trace.get_current_span(), "attributes", None) or {}
    return JsonResponse(
        {
            "bound_user": otel_context.get_identifiers().get("user.id"),
            "span_user_before_response": attributes.get("user.id"),
            "repr": before,
        }
    )


def binds(request: HttpRequest) -> HttpResponse:
    otel_context.bind(order__id="o-1", feature="beta")
    log.info("view.bound")
    return JsonResponse({"identifiers": otel_context.get_identifiers()})


def noisy(request: HttpRequest) -> HttpResponse:
    """Log ``?lines=`` DEBUG lines and one line of ``?huge=`` characters; 500 with ``?fail=1``."""
    from otel_context.flight_recorder import held_now

    log.debug("view.huge", blob="x" * int(request.GET.get("huge", "0")))
    for index in range(int(request.GET.get("lines", "0"))):
        log.debug("view.noise", index=index)
    lines, held_bytes = held_now()
    status = 500 if request.GET.get("fail") else 200
    return JsonResponse({"held_lines": lines, "held_bytes": held_bytes}, status=status)


def child_span(request: HttpRequest) -> HttpResponse:
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("child"):
        log.info("view.in_child")
    log.info("view.after_child")
    return HttpResponse("ok")


def raises(request: HttpRequest) -> HttpResponse:
    log.info("view.before_raise")
    msg = "view failed on purpose"
    raise RuntimeError(msg)
