"""Outbound email: the one sender every job and notification uses.

- templated: a base name gives `<name>_subject.txt`, `<name>.txt` and
  `<name>.html` (the HTML as an alternative part);
- `from` is `DEFAULT_FROM_EMAIL`;
- paced to `EMAILS_PER_SECOND` (0 = unpaced) over one connection, the rate
  email APIs such as Resend accept;
- retried `EMAIL_RETRIES` times with back-off (`EMAIL_RETRY_DELAY_SECONDS`,
  doubled each time). A message that never goes through is logged with its
  traceback and reported as False: the caller decides what a lost email means
  (e.g. unmark it so that tomorrow's run tries again).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


def render_email(template: str, context: dict, *, to: list[str]) -> EmailMultiAlternatives:
    """The message of `template` (base name of its three templates) for `to`."""
    message = EmailMultiAlternatives(
        subject=" ".join(render_to_string(f"{template}_subject.txt", context).split()),
        body=render_to_string(f"{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return message


class EmailSender:
    """Paced and retried sending over one connection; one sender per job run."""

    def __init__(self):
        self.connection = get_connection()
        rate = settings.EMAILS_PER_SECOND
        self.interval = 1 / rate if rate else 0.0
        self.retries = settings.EMAIL_RETRIES
        self.retry_delay = settings.EMAIL_RETRY_DELAY_SECONDS
        self._last = 0.0

    def _pace(self) -> None:
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()

    def send(self, message: EmailMultiAlternatives, *, log_extra: dict | None = None) -> bool:
        """True once sent; False when every try failed (logged with the traceback)."""
        message.connection = self.connection
        log_extra = {**(log_extra or {}), "to_count": len(message.to)}
        for attempt in range(self.retries + 1):
            self._pace()
            try:
                message.send()
                return True
            except Exception:  # one bad address or a mail outage must not stop a job
                if attempt == self.retries:
                    logger.exception("email not sent", extra=log_extra)
                    return False
                logger.warning("email failed, retrying", extra={**log_extra, "attempt": attempt + 1})
                time.sleep(self.retry_delay * 2**attempt)
        return False

    def send_template(self, template: str, context: dict, *, to: list[str], log_extra: dict | None = None) -> bool:
        return self.send(render_email(template, context, to=to), log_extra={"template": template, **(log_extra or {})})
