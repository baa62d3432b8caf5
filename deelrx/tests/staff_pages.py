"""Every staff page of the demo data, for the walks of issue 11 (overflow at phone width,
role visibility, accessibility): paths with real ids, as each demo role signs in."""

from __future__ import annotations

import io

from django.core.management import call_command

from deelrx.management.commands.seed_demo import DEMO_PASSWORD

DEMO_ROLES = ("admin", "olivia", "adam", "maria", "victor")  # superuser, owner, admin, member, viewer
PASSWORD = DEMO_PASSWORD


def seed_and_list_pages() -> list[str]:
    """Seed the demo and return one path of every staff page (with real ids)."""
    from admin_ops.models import InactivityPolicy, PurgeOperation
    from credit.models import CreditAccount, CreditTransaction
    from deelrx.tenancy.models import Customer, Team
    from knowledge_base.models import KbArticle

    call_command("seed_demo", stdout=io.StringIO())
    team = Team.objects.get(slug="demo-pharmacy")
    # a pending row: its account page shows the action buttons, the widest ledger row
    txn = (
        CreditTransaction.objects.filter(team=team, status="pending").first()
        or CreditTransaction.objects.filter(team=team).first()
    )
    account = txn.account if txn else CreditAccount.objects.filter(team=team).first()
    customer = Customer.objects.filter(team=team).first()
    article = KbArticle.objects.filter(team=team).first()
    pages = [
        "/",
        "/credit/",
        "/credit/accounts/new/",
        f"/credit/accounts/{account.pk}/",
        "/team/customers/",
        "/team/customers/new/",
        f"/team/customers/{customer.pk}/",
        "/team/members/",
        "/kb/",
        "/kb/new/",
        "/kb/review/",
        "/kb/links/",
        "/ops/",
        "/ops/purges/",
        "/ops/purges/new/",
        "/ops/activity/",
        "/ops/inactivity/",
        "/ops/inactivity/new/",
        "/ops/inactivity/trackers/",
        "/ops/blobs/",
        "/ops/jobs/",
        "/help/",
    ]
    if txn:
        pages.append(f"/credit/accounts/{account.pk}/transactions/{txn.pk}/")
    if article:
        pages += [f"/kb/{article.pk}/", f"/kb/{article.pk}/edit/", f"/kb/{article.pk}/history/"]
    purge = PurgeOperation.objects.filter(team=team).first()
    if purge:
        pages.append(f"/ops/purges/{purge.pk}/")
    policy = InactivityPolicy.objects.filter(team=team).first()
    if policy:
        pages.append(f"/ops/inactivity/{policy.pk}/edit/")
    return pages


def sign_in(page, username: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
