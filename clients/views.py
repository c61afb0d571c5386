"""Pages clients open from an e-mail (no login)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from clients.services import marketing_consent_withdraw
from clients.unsubscribe import client_for_token


@csrf_exempt  # a mail program's one-click POST has no CSRF token; the signed link is the credential
@require_http_methods(["GET", "POST"])
def marketing_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (mail scanners open links; they must not unsubscribe anyone), POST switches off."""
    client = client_for_token(token)
    if client is None:
        return render(request, "clients/unsubscribe.html", {"state": "bad_link"}, status=404)
    if request.method == "POST":
        marketing_consent_withdraw(client=client)
        return render(request, "clients/unsubscribe.html", {"state": "done"})
    return render(request, "clients/unsubscribe.html", {"state": "ask"})
