"""The client's own bookings: /my, and the booking buttons ``bk:cancel|resched|cancelok|keep:<id>``.

The buttons work from any message (the notification worker puts ``bk:cancel`` and
``bk:resched`` on reminders), and their data is never trusted: each press reads the
booking again, checks that it belongs to the client linked to *this* Telegram user and
that its state allows the action. Someone else's booking id gets the same answer as a
booking that does not exist.
"""

from bookings.errors import TransitionNotAllowed
from bookings.models import Booking, BookingStatus
from bookings.services import booking_transition
from botapp import keyboards, selectors
from botapp.callbacks import Button
from botapp.flow.booking import ACTOR, booking_context, remember_branch, remember_service, stamp
from botapp.flow.core import Out, Reply, Turn, session_reset, show
from botapp.texts import render


def my_bookings(turn: Turn) -> Reply:
    """/my: each upcoming booking as its own message with «Отменить» and «Перенести»."""
    bookings = selectors.upcoming_bookings(turn.user.id)
    if not bookings:
        return Reply([Out(render("my_empty"), keyboards.menu())], in_place=False)
    messages = [Out(render("my_booking", **booking_context(b)), keyboards.booking_actions(b.pk)) for b in bookings]
    return Reply([Out(render("my_header", count=len(bookings))), *messages], in_place=False)


def booking_button(turn: Turn, button: Button) -> Reply:
    """A booking button: re-check ownership and state in the database, then act."""
    booking = selectors.booking_of(turn.user.id, button.booking_id)
    if booking is None:
        return Reply(answer=render("answer_not_yours"), alert=True)
    if not booking.is_active:
        return Reply(answer=render("answer_booking_closed", status=booking.get_status_display()))
    if booking.has_started:
        return Reply(answer=render("answer_booking_started"))
    if button.action == "cancel":
        return Reply([Out(render("cancel_question", **booking_context(booking)), keyboards.cancel_question(booking.pk))],
                     in_place=False)
    if button.action == "keep":
        return Reply([Out(render("kept", **booking_context(booking)), keyboards.booking_actions(booking.pk))])
    if button.action == "cancelok":
        return cancel(turn, booking)
    return reschedule(turn, booking)


def cancel(turn: Turn, booking: Booking) -> Reply:
    """Cancel through the engine (under its row lock, so two taps cancel once)."""
    try:
        booking_transition(booking=booking, to_status=BookingStatus.CANCELLED, actor=ACTOR, reason="Отмена клиентом в Telegram")
    except TransitionNotAllowed:
        return Reply(answer=render("answer_booking_closed", status=BookingStatus.CANCELLED.label))
    if turn.data.get("booking") == booking.pk:
        session_reset(turn)  # a reschedule of this booking was under way
    return Reply([Out(render("cancelled", **booking_context(booking)))], answer=render("answer_cancelled"))


def reschedule(turn: Turn, booking: Booking) -> Reply:
    """Start moving the booking: the same date and time steps as booking, then a summary."""
    session_reset(turn)
    turn.data.update(mode="resched", booking=booking.pk, client_id=booking.client_id,
                     old_at=stamp(booking.starts_at, booking.workshop.tz),
                     car_label=str(booking.vehicle) if booking.vehicle_id else "")
    remember_branch(turn, booking.workshop)
    remember_service(turn, booking.service)
    intro = Out(render("resched_intro", **booking_context(booking)))
    return show(turn, "date", intro, in_place=False)
