"""Content-Security-Policy and the other browser-enforced headers on every HTML page.

Every route of the URLconf is requested (sample arguments from its converters) as
a superuser and anonymously, the demo data's real pages are crawled as each demo
role, and the templates are read for inline scripts without the nonce and inline
event handlers, which the policy would block."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import uuid
from collections import deque
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.converters import IntConverter, UUIDConverter
from django.urls.exceptions import Resolver404

from deelrx.tenancy.models import User

ROOT = Path(__file__).resolve().parents[2]
DEMO_USERS = ("admin", "olivia", "adam", "maria", "victor")


def csp_of(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    policy = {}
    for directive in filter(None, (part.strip() for part in header.split(";"))):
        name, *sources = directive.split()
        policy[name] = sources
    return policy


def assert_strict_csp(response, path: str) -> None:
    policy = csp_of(response)
    assert policy, f"{path} has no Content-Security-Policy"
    if "sandbox" in policy:  # files streamed from the stores carry their own, stricter one
        assert policy["default-src"] == ["'none'"], path
        return
    assert policy["default-src"] == ["'self'"], path
    assert policy["object-src"] == ["'none'"], path
    assert policy["frame-ancestors"] == ["'none'"], path
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in policy[directive], (path, directive)
        assert "'unsafe-eval'" not in policy[directive], (path, directive)
    if response.get("Content-Type", "").startswith("text/html") and response.status_code == 200:
        _assert_inline_code_has_the_nonce(response, policy, path)


_INLINE_TAG = re.compile(r"<(script|style)\b([^>]*)>", re.IGNORECASE)


def _assert_inline_code_has_the_nonce(response, policy, path):
    html = response.content.decode("utf-8", "replace")
    for tag, attributes in _INLINE_TAG.findall(html):
        if tag.lower() == "script" and ("src=" in attributes or "application/json" in attributes):
            continue
        nonce = re.search(r'nonce="([^"]+)"', attributes)
        assert nonce, f"inline <{tag}> without a nonce on {path}"
        assert f"'nonce-{nonce.group(1)}'" in policy[f"{tag.lower()}-src"], path


# --- Every route of the URLconf -----------------------------------------------------------
_SAMPLE_REGEX_GROUPS = {"app_label": "tenancy", "key": "public/kb/1/missing/file.txt"}


def _sample(converter) -> str:
    if isinstance(converter, IntConverter):
        return "1"
    if isinstance(converter, UUIDConverter):
        return str(uuid.uuid4())
    return "sample"


def _fill(pattern) -> str:
    """A concrete path segment for one pattern: converters get sample values."""
    text = str(pattern.pattern)
    converters = getattr(pattern.pattern, "converters", {})
    if converters:  # path() routes
        for name, converter in converters.items():
            text = re.sub(rf"<(?:\w+:)?{name}>", _sample(converter), text)
        return text
    # re_path(): named groups get samples, the anchors and catch-alls go.
    text = re.sub(
        r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)",
        lambda m: _SAMPLE_REGEX_GROUPS.get(m.group(1), "sample"),
        text,
    )
    return text.lstrip("^").rstrip("$").replace(".*", "").replace("\\", "")


def every_route(resolver=None, prefix: str = "") -> list[str]:
    resolver = resolver or get_resolver()
    paths = []
    for pattern in resolver.url_patterns:
        segment = prefix + _fill(pattern)
        if isinstance(pattern, URLResolver):
            paths.extend(every_route(pattern, segment))
        elif isinstance(pattern, URLPattern):
            paths.append("/" + segment)
    return sorted(set(paths))


def test_the_route_walk_finds_the_pages():
    routes = every_route()
    for expected in ("/", "/login/", "/help/", "/credit/", "/kb/", "/ops/", "/django-admin/", "/api/docs/"):
        assert expected in routes
    assert len(routes) > 100


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "superuser"])
def test_every_route_answers_with_the_policy(client, who, superuser):
    if who == "superuser":
        client.force_login(superuser)
    for path in every_route():
        response = client.get(path)
        assert_strict_csp(response, path)
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert "camera=()" in response["Permissions-Policy"], path


# --- Real pages: the demo data crawled as each demo role ------------------------------------
_LINK = re.compile(r"""(?:href|hx-get|action)="([^"#]+)""")
_SKIP = ("/logout/", "/media/", "/api/", "/static/", "/django-admin/logout/")


def crawl(client, start: list[str], *, limit: int = 250, per_route: int = 3) -> dict[str, int]:
    """Follow same-origin links breadth-first; returns {path: status}."""
    seen: dict[str, int] = {}
    per_route_count: dict[str, int] = {}
    queue = deque(start)
    while queue and len(seen) < limit:
        url = queue.popleft()
        path = urlsplit(url).path
        if url in seen or (path.startswith(_SKIP) and path != "/api/docs/"):
            continue
        try:
            route = resolve(path).route
        except Resolver404:
            continue
        if per_route_count.get(route, 0) >= per_route:
            continue
        per_route_count[route] = per_route_count.get(route, 0) + 1
        response = client.get(url)
        seen[url] = response.status_code
        assert_strict_csp(response, url)
        if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
            for link in _LINK.findall(response.content.decode()):
                absolute = urljoin(url, link.replace("&amp;", "&"))
                parts = urlsplit(absolute)
                if parts.netloc in ("", "testserver"):
                    queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return seen


@pytest.fixture
def demo(db, settings):
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_demo"
    call_command("seed_demo", stdout=io.StringIO())
    return {user.username: user for user in User.objects.filter(username__in=DEMO_USERS)}


@pytest.mark.parametrize("role", [*DEMO_USERS, "anonymous"])
def test_demo_pages_carry_the_policy_for_every_role(client, demo, role):
    if role != "anonymous":
        client.force_login(demo[role])
    start = ["/", "/help/", "/login/", "/credit/", "/kb/", "/ops/", "/team/customers/", "/api/docs/"]
    if role == "admin":
        start.append("/django-admin/")
    visited = crawl(client, start)
    pages = [url for url, status in visited.items() if status == 200]
    assert len(pages) >= (3 if role == "anonymous" else 15), visited


def test_stripe_is_allowed_only_on_the_card_form_page(client, demo):
    from credit.models import CreditAccount

    client.force_login(demo["olivia"])
    account = CreditAccount.objects.filter(team__slug="demo-pharmacy").first()
    card_page = client.get(f"/credit/accounts/{account.pk}/")
    assert card_page.status_code == 200
    assert b"https://js.stripe.com/v3/" in card_page.content
    policy = csp_of(card_page)
    assert "https://js.stripe.com" in policy["script-src"]
    assert "https://js.stripe.com" in policy["frame-src"]
    assert "https://api.stripe.com" in policy["connect-src"]
    for path in ("/credit/", "/", "/kb/", "/help/"):
        other = csp_of(client.get(path))
        assert "https://js.stripe.com" not in other["script-src"], path
        assert "frame-src" not in other, path


def test_security_headers_on_a_page(client, owner):
    client.force_login(owner)
    response = client.get("/")
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    permissions = dict(item.strip().split("=", 1) for item in response["Permissions-Policy"].split(","))
    assert permissions["geolocation"] == "()"
    assert permissions["camera"] == "()"
    assert permissions["microphone"] == "()"


def test_production_settings_send_hsts_for_a_year():
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps([settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "settings.SECURE_SSL_REDIRECT]))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "deelrx.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "x" * 60,
    }
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    seconds, subdomains, redirect = json.loads(result.stdout.strip().splitlines()[-1])
    assert seconds >= 365 * 24 * 3600
    assert subdomains is True
    assert redirect is True


# --- Templates: nothing the policy would block ---------------------------------------------
def project_templates() -> list[Path]:
    dirs = [ROOT / "templates", *ROOT.glob("*/templates"), *ROOT.glob("deelrx/*/templates")]
    return sorted(path for directory in dirs for path in directory.rglob("*.html"))


_SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
_STYLE_TAG = re.compile(r"<style\b([^>]*)>", re.IGNORECASE)
_INLINE_HANDLER = re.compile(r"""<[a-zA-Z][^>]*?\s(on[a-z]+|hx-on[:\w-]*)\s*=""", re.DOTALL)
_NONCE = 'nonce="{{ request.csp_nonce }}"'


def test_the_template_walk_finds_the_templates():
    names = {path.name for path in project_templates()}
    assert {"base.html", "login.html", "account_detail.html", "help_article.html"} <= names


@pytest.mark.parametrize("path", project_templates(), ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_code_the_policy_would_block(path):
    text = path.read_text()
    is_email = "email" in path.parts or path.name.startswith("password_reset_email")
    for attributes in _SCRIPT_TAG.findall(text):
        if "src=" not in attributes and "application/json" not in attributes:
            assert _NONCE in attributes, f"inline <script> without {_NONCE}"
    if not is_email:  # emails are not pages: the policy does not apply to them
        for attributes in _STYLE_TAG.findall(text):
            assert _NONCE in attributes, f"inline <style> without {_NONCE}"
        assert not re.search(r"\sstyle\s*=", text), "style attributes are blocked by style-src"
    handler = _INLINE_HANDLER.search(text)
    assert handler is None, f"inline event handler {handler.group(1) if handler else ''}: move it to static/js"
    assert "javascript:" not in text.lower()
