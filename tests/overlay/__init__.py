"""An application that owns its settings (issue 22, point 5), and overlays enabling otel_context."""
