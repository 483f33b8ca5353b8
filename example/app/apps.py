from django.apps import AppConfig


class ExampleAppConfig(AppConfig):
    name = "example.app"
    label = "example_app"
    verbose_name = "otel_context example"
