from django.conf import settings
from django.contrib import admin
from django.contrib.auth import urls as auth_urls
from django.urls import include, path

from apps.web import health, views

# Password reset sends an email: offered only when a mail server is configured (EMAIL_URL).
PASSWORD_RESET_URLS = {"password_reset", "password_reset_done", "password_reset_confirm", "password_reset_complete"}
account_urls = [url for url in auth_urls.urlpatterns if settings.EMAIL_CONFIGURED or url.name not in PASSWORD_RESET_URLS]
if not settings.EMAIL_CONFIGURED:
    account_urls.append(path("password_reset/", views.password_reset_off, name="password_reset"))

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include(account_urls)),
    path("metrics", health.metrics, name="prometheus-django-metrics"),
    path("", include("apps.api.urls")),
    path("", include("apps.strategies.urls")),
    path("", include("apps.web.urls")),
]
