from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.generic import RedirectView

from clients.views import marketing_unsubscribe


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for the container healthcheck and the reverse proxy."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("unsubscribe/<str:token>/", marketing_unsubscribe, name="marketing_unsubscribe"),
]
