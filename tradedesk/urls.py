from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("django_prometheus.urls")),
    path("", include("apps.api.urls")),
    path("", include("apps.strategies.urls")),
    path("", include("apps.web.urls")),
]
