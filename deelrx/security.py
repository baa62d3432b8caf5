"""Response headers the browser enforces, beside Django's SecurityMiddleware
(HSTS, nosniff, Referrer-Policy, Cross-Origin-Opener-Policy) and django-csp
(Content-Security-Policy, configured in settings.CONTENT_SECURITY_POLICY).

- `PermissionsPolicyMiddleware` turns off the browser features no page uses.
- `stripe_csp` widens the CSP for the one page that loads Stripe.js (the card
  form on a credit account): every other page keeps the strict policy.
"""

from __future__ import annotations

from csp.decorators import csp_update
from django.conf import settings

# Features no page of the back office uses; `payment` only for Stripe's card frame.
DEFAULT_PERMISSIONS_POLICY = {
    "accelerometer": "()",
    "autoplay": "()",
    "camera": "()",
    "display-capture": "()",
    "encrypted-media": "()",
    "fullscreen": "(self)",
    "geolocation": "()",
    "gyroscope": "()",
    "hid": "()",
    "idle-detection": "()",
    "magnetometer": "()",
    "microphone": "()",
    "midi": "()",
    "payment": '(self "https://js.stripe.com")',
    "picture-in-picture": "()",
    "publickey-credentials-get": "()",
    "screen-wake-lock": "()",
    "serial": "()",
    "usb": "()",
    "xr-spatial-tracking": "()",
}

# What Stripe.js and its card element need (https://docs.stripe.com/security/guide#content-security-policy).
STRIPE_CSP = {
    "script-src": ["https://js.stripe.com", "https://*.js.stripe.com"],
    "frame-src": ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"],
    "connect-src": ["https://api.stripe.com"],
}
stripe_csp = csp_update(STRIPE_CSP)


def permissions_policy_header() -> str:
    policy = getattr(settings, "PERMISSIONS_POLICY", DEFAULT_PERMISSIONS_POLICY)
    return ", ".join(f"{feature}={allow}" for feature, allow in policy.items())


class PermissionsPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.header = permissions_policy_header()

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.header)
        return response
