from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from deelrx import health, views
from deelrx.tenancy import auth
from deelrx.tenancy import views as tenancy_views
from deelrx.tenancy.api.auth_views import TokenObtainApi

api_patterns = [
    path("auth/token/", TokenObtainApi.as_view(), name="api-auth-token"),
    path("", include("deelrx.tenancy.api.urls")),
    path("", include("credit.api.urls")),
    path("help/", include("knowledge_base.api.urls")),
    path("admin/", include("admin_ops.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("reports.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Unknown API paths answer in the API's error shape, in DEBUG too ([\s\S]: a newline in the
    # path, which "." does not match, would otherwise fall through to the HTML 404).
    re_path(r"^[\s\S]*$", views.api_not_found),
]

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    # pages link the icon; this is for what asks /favicon.ico (the API docs, the Django admin, feed readers)
    path("favicon.ico", views.favicon),
    path("team/switch/", views.switch_team, name="switch-team"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/", include(api_patterns)),
    path("team/", include("deelrx.tenancy.urls")),
    path("credit/", include("credit.urls")),
    path("kb/", include("knowledge_base.urls")),
    path("help/", include("knowledge_base.public_urls")),
    path("ops/", include("admin_ops.urls")),
    path("notifications/", include("notifications.urls")),
    path("reports/", include("reports.urls")),
    # The admin's "Forgotten your password?" link leads to the same flow.
    path("django-admin/password_reset/", auth.PasswordResetView.as_view(), name="admin_password_reset"),
    path("django-admin/", admin.site.urls),
]

if not settings.PUBLIC_STORAGE_BUCKET:
    # Public files on disk are served by the app (behind a CDN in production).
    urlpatterns.append(re_path(r"^media/(?P<key>public/.+)$", tenancy_views.serve_public_file, name="public-file"))

handler400 = "deelrx.views.bad_request"
handler403 = "deelrx.views.permission_denied"
handler404 = "deelrx.views.page_not_found"
handler500 = "deelrx.views.server_error"
