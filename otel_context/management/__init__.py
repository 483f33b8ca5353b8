"""Django management commands of otel_context."""
