"""The per-record cost of ``OTelContextFilter`` and ``OTelContextFormatter`` (issue 22).

``python -m benchmarks.stdlib_records [--old path/to/an/older/otel_context/stdlib.py]``

Times ``handler.handle(fresh record)`` into a ``StringIO``, outside and inside a request scope
with five identifiers bound, configured with a RESOLVERS key (``tenant.id``) and a URL_KWARGS
target (``shard.id``). Variants run interleaved, best of the rounds; shown as ratios to a
handler without filter whose format names no id, and to the first filter variant.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import logging
import timeit
from typing import Any

import django
from django.conf import settings

BUILTIN = (
    "%(levelname)s %(name)s trace=%(trace_id)s span=%(span_id)s cid=%(correlation_id)s"
    " user=%(user_id)s org=%(organisation_id)s %(message)s"
)
CONFIGURED = BUILTIN + " tenant=%(tenant_id)s shard=%(shard_id)s"
EVERY_KIND = CONFIGURED + " order=%(order_id)s"


def _handler(fmt: str, flt: logging.Filter | None, formatter: type = logging.Formatter) -> Any:
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(formatter(fmt))
    if flt is not None:
        handler.addFilter(flt)
    return handler


def _variants(old: str | None) -> dict[str, Any]:
    from otel_context import OTelContextFilter, OTelContextFormatter  # noqa: PLC0415

    found = {
        "no filter, no ids in the format": _handler("%(levelname)s %(name)s %(message)s", None)
    }
    if old:
        spec = importlib.util.spec_from_file_location("old_stdlib", old)
        assert spec is not None and spec.loader is not None  # noqa: PT018
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found["old filter, built-in names"] = _handler(BUILTIN, module.OTelContextFilter())
    found["filter, built-in names"] = _handler(BUILTIN, OTelContextFilter())
    found["filter, + RESOLVERS/URL_KWARGS names"] = _handler(CONFIGURED, OTelContextFilter())
    found["same, with OTelContextFormatter"] = _handler(
        CONFIGURED, OTelContextFilter(), OTelContextFormatter
    )
    found["filter + OTelContextFormatter, + bind()-only name"] = _handler(
        EVERY_KIND, OTelContextFilter(), OTelContextFormatter
    )
    return found


def _best(variants: dict[str, Any], rounds: int = 15, number: int = 3000) -> dict[str, float]:
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for name, handler in variants.items():
            stream = handler.stream

            def once(handler: Any = handler, stream: Any = stream) -> None:
                handler.handle(logging.LogRecord("app", logging.INFO, "", 1, "hi %s", ("x",), None))
                stream.seek(0)
                stream.truncate()

            best[name] = min(best[name], timeit.timeit(once, number=number) / number * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--old", help="an older otel_context/stdlib.py to compare with")
    args = parser.parse_args()
    settings.configure(
        OTEL_CONTEXT={
            "RESOLVERS": {"tenant.id": "os.getcwd"},
            "URL_KWARGS": {"shard_pk": "shard.id"},
        }
    )
    django.setup()
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415

    from otel_context.conf import get_config  # noqa: PLC0415
    from otel_context.scope import RequestScope, scoped  # noqa: PLC0415

    logging.raiseExceptions = False  # an old filter fails on the configured names: not printed
    variants = _variants(args.old)
    results = {"outside a request": _best(variants)}
    ids = {"correlation.id": "c1", "user.id": "5", "organisation.id": "7", "tenant.id": "t1"}
    span = TracerProvider().get_tracer("bench").start_span("request")
    with scoped(RequestScope(span, keys=get_config().server_owned), **ids, shard__id="s1"):
        results["inside a request"] = _best(variants)
    for where, best in results.items():
        bare, ref = list(best.values())[:2]
        print(f"-- {where}")
        for name, micros in best.items():
            print(f"  {name:50} {micros:6.2f} µs {micros / bare:5.2f}x bare {micros / ref:5.2f}x")


if __name__ == "__main__":
    main()
