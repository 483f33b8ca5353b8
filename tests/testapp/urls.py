from django.urls import path

from tests.testapp import context_views, outbound, tenancy, views, w3c

urlpatterns = [
    path("plain/", views.plain),
    path("orgs/<int:organisation_pk>/projects/<str:project_pk>/", views.plain),
    path("environments/<str:environment_key>/", views.plain),
    path("whoami/", views.whoami),
    path("orgs/<int:organisation_pk>/whoami/", views.whoami),
    path("login/<str:username>/", views.login_as),
    path("user-changes/<str:username>/", views.user_changes),
    path("user-loads/", views.user_loads),
    path("bind/", views.binds),
    path("child/", views.child_span),
    path("noisy/", views.noisy),
    path("raises/", views.raises),
    path("orgs/<int:organisation_pk>/refuses/", views.refuses),
    path("healthz/", views.plain),
    path("call-out/", outbound.call_out),
    path("drf/token/", context_views.TokenView.as_view()),
    path("drf/api-key/", context_views.ApiKeyView.as_view()),
    path("tenancy/me/", tenancy.TenantView.as_view()),
    path("tenancy/orgs/<int:organisation_pk>/", tenancy.TenantView.as_view()),
    path("stream/", context_views.streaming),
    path("stream-async/", context_views.async_streaming),
    path("download/", context_views.file_download),
    path("async/orgs/<int:organisation_pk>/", context_views.async_view),
    path("async/user/", context_views.async_user),
    path("threads/", context_views.in_thread_pool),
    path("w3c/test/", w3c.harness),
]
