"""The Django adapter: hooks on ``DjangoInstrumentor``, a late middleware, the app config.

It knows Django; the core (``otel_context.scope`` and friends) does not.
"""
