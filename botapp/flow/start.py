"""Greeting, consent, contact and name: what happens before the first booking step.

Nothing personal is asked before the consent is recorded. The consent is a separate
message with its own button; its text names the operator (``workshops.Company``).
A new ``CONSENT_VERSION`` asks everyone again and leaves the old records as they were.
/withdraw takes the consent back: the records are marked, the account is unlinked, and
the bot starts again from the consent.
"""

from botapp import callbacks, catalog, keyboards, selectors
from botapp.flow.core import (
    Out,
    Reply,
    Turn,
    enter,
    on_back,
    on_button,
    on_text,
    screen,
    session_reset,
    show,
)
from botapp.texts import clean_typed, render
from clients.consents import (
    consent_attach_client,
    consent_given,
    consent_record,
    consent_withdraw_telegram,
)
from clients.models import Client, ConsentPurpose
from clients.normalize import InvalidPhone, normalize_phone
from clients.services import (
    InvalidName,
    clean_name,
    client_get_or_create_by_phone,
    client_link_telegram,
)

# Bump when the wording of templates/botapp/consent.txt changes: everyone is asked again.
# 2: the text names /withdraw as a way to withdraw.
CONSENT_VERSION = "2"
CHANNEL = "telegram"


def has_consent(turn: Turn) -> bool:
    return consent_given(
        telegram_user_id=turn.user.id, purpose=ConsentPurpose.PERSONAL_DATA, text_version=CONSENT_VERSION
    )


def consent_text() -> str | None:
    """The consent text as shown, or ``None`` when the operator is not set up in admin."""
    operator = catalog.company()
    if operator is None:
        return None
    return render("consent", company=operator, version=CONSENT_VERSION)


def consent_screen(turn: Turn, *, updated: bool = False) -> list[Out]:
    """Greeting and the consent as its own message with its own button."""
    text = consent_text()
    if text is None:
        session_reset(turn)
        return [Out(render("not_configured"))]
    enter(turn, "consent")
    greeting = render("consent_updated" if updated else "greeting", first_name=clean_typed(turn.user.first_name))
    return [Out(greeting, keyboards.remove()), Out(text, keyboards.consent(CONSENT_VERSION))]


def start(turn: Turn) -> Reply:
    """/start: leave any flow; consent first, then the contact, then the menu."""
    session_reset(turn)
    if not has_consent(turn):
        return Reply(consent_screen(turn))
    client = selectors.client_for_telegram(turn.user.id)
    if client is None:
        return show(turn, "contact")
    turn.data["client_id"] = client.pk
    return Reply([Out(render("welcome_back", client=client), keyboards.menu())])


def consent_pressed(turn: Turn, version: str) -> Reply:
    """«Согласен»: record the consent with the text shown, then ask for the contact.

    A press under an older text asks for the current one, unless that is already given:
    then the old button is only spent, and whatever the person is doing goes on.
    """
    # The consent screen is only shown to someone without a standing consent; a press
    # anywhere else (a second tap, an old message) checks the records first.
    if turn.session.state != "consent" and has_consent(turn):
        return Reply(answer=render("answer_consent_already"), strip_pressed=True)
    if version != CONSENT_VERSION:
        return Reply(consent_screen(turn, updated=True), answer=render("answer_consent_outdated"), strip_pressed=True)
    text = consent_text()
    if text is None:
        return Reply([Out(render("not_configured"))], answer=render("answer_sorry"), strip_pressed=True)
    consent_record(
        purpose=ConsentPurpose.PERSONAL_DATA, text_version=CONSENT_VERSION, text=text, channel=CHANNEL,
        telegram_user_id=turn.user.id, message_id=turn.message_id, client_id=turn.data.get("client_id"),
    )
    return after_consent(turn, answer=render("answer_consent_recorded"))


def after_consent(turn: Turn, *, answer: str) -> Reply:
    """The pressed consent keeps its text and loses its button; then the contact (or the menu)."""
    client = selectors.client_for_telegram(turn.user.id) if turn.data.get("client_id") else None
    if client is not None:
        reply = Reply([Out(render("welcome_back", client=client), keyboards.menu())])
        session_reset(turn)
    else:
        reply = show(turn, "contact")
    reply.answer, reply.strip_pressed = answer, True
    return reply


@screen("contact")
def contact_screen(turn: Turn) -> list[Out]:
    enter(turn, "contact")
    return [Out(render("contact_request"), keyboards.contact_request())]


@on_text("contact")
def contact_typed(turn: Turn, text: str) -> Reply:
    """Text instead of a contact: «Назад» leaves, anything else repeats the request."""
    if text.strip() == keyboards.BACK:
        return leave(turn)
    return Reply([Out(render("contact_use_button"), keyboards.contact_request())])


def contact_shared(turn: Turn, *, phone: str, contact_user_id: int | None) -> Reply:
    """A shared contact: only the sender's own; a known phone links the client, a new one asks the name."""
    if contact_user_id != turn.user.id:
        return Reply([Out(render("contact_foreign"), keyboards.contact_request())])
    # The contact step is only entered after the consent; a contact sent at any other time is checked.
    if turn.session.state != "contact" and not has_consent(turn):
        return Reply(consent_screen(turn))
    try:
        number = normalize_phone(phone)
    except InvalidPhone as exc:
        return Reply([Out(render("contact_bad_phone", error=exc.message), keyboards.contact_request())])
    client = selectors.client_by_phone(number)
    if client is None:
        turn.data["phone"] = number
        return show(turn, "name", Out(render("contact_thanks"), keyboards.remove()))
    link_client(turn, client)
    from botapp.flow.booking import begin

    return Reply([Out(render("welcome_known", client=client), keyboards.remove()), *begin(turn)])


def link_client(turn: Turn, client: Client) -> None:
    """Link the Telegram account, then give the client the consents given before they were known.

    Two writes, not one transaction: each is complete on its own, and the second is
    repeated by the next contact if it ever fails.
    """
    client_link_telegram(client=client, telegram_user_id=turn.user.id, username=turn.user.username)
    consent_attach_client(telegram_user_id=turn.user.id, client=client)
    turn.data["client_id"] = client.pk


@screen("name")
def name_screen(turn: Turn) -> list[Out]:
    step = enter(turn, "name")
    return [Out(render("name_request"), keyboards.only_back(step))]


@on_back("name")
def name_back(turn: Turn) -> Reply:
    turn.data.pop("phone", None)
    return show(turn, "contact", in_place=False)


@on_text("name")
def name_typed(turn: Turn, text: str) -> Reply:
    """The new client's name: checked, then the client is created with the shared phone and linked."""
    phone = turn.data.get("phone")
    if not phone:
        return show(turn, "contact")
    try:
        name = clean_name(clean_typed(text))
    except InvalidName as exc:
        return show(turn, "name", Out(render("name_invalid", error=exc.message)))
    client, _created = client_get_or_create_by_phone(phone=phone, name=name)
    link_client(turn, client)
    turn.data.pop("phone", None)
    from botapp.flow.booking import begin

    return Reply([Out(render("welcome_new", client=client)), *begin(turn)])


def leave(turn: Turn) -> Reply:
    """/cancel and «Назад» from the first step: leave the flow and show the menu."""
    had_reply_keyboard = turn.session.state == "contact"
    session_reset(turn)
    if had_reply_keyboard:
        return Reply([Out(render("left"), keyboards.remove()), Out(render("menu"), keyboards.menu())], in_place=False)
    return Reply([Out(render("left") + "\n\n" + render("menu"), keyboards.menu())])


def help_reply(turn: Turn) -> Reply:
    """/help: what the bot does and its commands."""
    return Reply([Out(render("help"), keyboards.menu())], in_place=False)


# --- withdrawing the consent ------------------------------------------------------------
def withdraw_question(turn: Turn) -> Reply:
    """/withdraw: what withdrawing means, with «Отозвать согласие» and «Оставить»."""
    session_reset(turn)
    if not selectors.anything_to_withdraw(turn.user.id):
        return Reply([Out(render("withdraw_nothing"), keyboards.menu())], in_place=False)
    step = enter(turn, "withdraw")
    markup = keyboards.inline([
        [keyboards.button("Отозвать согласие", callbacks.step(step, "yes"))],
        [keyboards.button("Оставить", callbacks.step(step, "no"))],
    ])
    return Reply([Out(render("withdraw_question"), markup)], in_place=False)


@on_button("withdraw", "yes", option=False)
def withdraw_confirmed(turn: Turn, _arg: str) -> Reply:
    """Withdraw every standing consent and unlink the account; the session forgets the client too."""
    consent_withdraw_telegram(telegram_user_id=turn.user.id)
    session_reset(turn)
    turn.session.data = {}
    return Reply([Out(render("withdrawn"), keyboards.remove())], answer=render("answer_withdrawn"), strip_pressed=True)


@on_button("withdraw", "no", option=False)
def withdraw_declined(turn: Turn, _arg: str) -> Reply:
    session_reset(turn)
    return Reply([Out(render("withdraw_kept"), keyboards.menu())])
