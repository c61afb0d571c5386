"""One-click unsubscribe from marketing e-mails (return-visit nudges), for clients without Telegram.

The link carries the client's id signed with the site's secret: whoever holds the e-mail may
switch its marketing off, and nothing else; no login, as a mail program's one-click
``List-Unsubscribe-Post`` (RFC 8058) has none.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from clients.models import Client

_SALT = "clients.marketing-unsubscribe"


def unsubscribe_url(client_id: int) -> str:
    token = signing.dumps(client_id, salt=_SALT, compress=True)
    return settings.PUBLIC_URL + reverse("marketing_unsubscribe", args=[token])


def client_for_token(token: str) -> Client | None:
    """The client the link was made for, or ``None`` for a link that is not ours (or was edited)."""
    try:
        client_id = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    return Client.objects.filter(pk=client_id).first() if isinstance(client_id, int) else None
