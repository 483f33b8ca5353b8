"""An example Django service wired with otel_context, used by ``make demo`` and the tests."""
