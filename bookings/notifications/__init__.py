"""Notifications: the outbox, its senders, reminders and nudges (DESIGN §3).

- ``events.notifications_for_event`` writes the rows a booking change calls for, in the
  change's own transaction, and queues them after commit;
- ``dispatch.notification_send`` claims one row, re-checks it, sends it and records the outcome
  (temporary failures retry, at most hourly, for ``MAX_AGE`` from writing or from a staff retry);
- ``scheduled`` holds the periodic scans (reminders, return-visit nudges) and the sweep;
- ``transports`` speak to Telegram and SMTP and say whether an error is permanent;
- ``managers_chat`` moves a branch's managers' chat when Telegram upgrades the group;
- ``ratelimit`` keeps every worker together inside Telegram's limits.
"""
