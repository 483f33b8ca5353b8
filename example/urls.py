from django.contrib.auth.views import LoginView
from django.urls import path

from example.app import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path(
        "api/v1/organisations/<int:organisation_pk>/projects/<int:project_pk>/",
        views.project_detail,
        name="project-detail",
    ),
    path(
        "api/v1/organisations/<int:organisation_pk>/projects/<int:project_pk>/quote/",
        views.project_quote,
        name="project-quote",
    ),
    path(
        "api/v1/environments/<str:environment_api_key>/flags/",
        views.environment_flags,
        name="environment-flags",
    ),
    path("api/v1/sdk/flags/", views.sdk_flags, name="sdk-flags"),
    path("api/v1/boom/", views.boom, name="boom"),
    path("api/v1/async/work/", views.async_work, name="async-work"),
    path("api/v1/chatter/", views.chatter, name="chatter"),
]
