"""Signing in safely: lockout after repeated failures (django-axes), the lockout
answer in the app's shapes, and password reset by email (Django's views).

- django-axes counts failed sign-ins per username and per client ip on every
  path that calls `authenticate(request, …)`: the staff login, the Django admin
  and `POST /api/auth/token/`. After `AXES_FAILURE_LIMIT` failures that
  username, or that ip, is locked out for `AXES_COOLOFF_TIME`; an admin unlocks
  sooner (Django admin → Axes → Access attempts, or `manage.py
  axes_reset_username USER` / `axes_reset_ip IP`). A success resets the count.
- Password reset is Django's own flow with our templates; the email goes out
  through Django's email API with links built from `SITE_URL`. Requests are
  limited per client ip and per address, and a limited request looks exactly
  like an accepted one (no hint whether an address has an account).
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from deelrx.errors import DomainError
from deelrx.middleware import client_ip

logger = logging.getLogger(__name__)


class LoginLockedOut(DomainError):
    status_code = 429
    code = "locked_out"
    default_message = "Too many failed sign-in attempts."


def cooloff_minutes() -> int:
    return max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))


def lockout_message() -> str:
    return (
        f"Too many failed sign-in attempts. Try again in {cooloff_minutes()} minutes, "
        "or ask an administrator to unlock the account."
    )


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 in the API's error shape under /api/, else the lockout page."""
    from deelrx.api import is_api_request, json_error_response

    seconds = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    if is_api_request(request):
        response = json_error_response(request, LoginLockedOut.code, lockout_message(), 429)
    else:
        response = render(
            request,
            "registration/lockout.html",
            {"message": lockout_message(), "cooloff_minutes": cooloff_minutes()},
            status=429,
        )
    response["Retry-After"] = seconds
    return response


def _within_limit(key: str, limit: int) -> bool:
    """Count one more request under `key` for an hour; False once over `limit`."""
    cache.add(key, 0, timeout=3600)
    try:
        return cache.incr(key) <= limit
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        return True


class PasswordResetView(auth_views.PasswordResetView):
    """Django's view with links from SITE_URL and per-ip / per-address limits."""

    email_template_name = "registration/password_reset_email.txt"
    html_email_template_name = "registration/password_reset_email.html"
    subject_template_name = "registration/password_reset_subject.txt"

    @property
    def extra_email_context(self):
        return {"site_url": settings.SITE_URL}

    def form_valid(self, form):
        email = form.cleaned_data["email"].strip().lower()
        digest = hashlib.sha256(email.encode()).hexdigest()
        allowed = _within_limit(f"pwreset:ip:{client_ip(self.request)}", settings.PASSWORD_RESET_PER_IP_PER_HOUR)
        allowed = _within_limit(f"pwreset:email:{digest}", settings.PASSWORD_RESET_PER_EMAIL_PER_HOUR) and allowed
        if not allowed:
            logger.warning("password reset request over the limit", extra={"ip": client_ip(self.request)})
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)
