"""Reads through the full module path, a server-owned key, and keys not known statically."""

import opentelemetry.baggage
import opentelemetry.baggage as ob


def region():
    return opentelemetry.baggage.get_baggage("tenant.region")


def upstream_user():
    return ob.get_all()["user.id"]


def correlation():
    return ob.get_baggage("correlation.id")


def by_name(key):
    return ob.get_baggage(key)


def everything():
    return dict(ob.get_all())


def not_opentelemetry(store, get_baggage):
    return store.get_baggage("not.baggage"), get_baggage("shadowed")
