"""Issue 11: each of the five demo roles sees only what it may use. Every staff page as
superuser, owner, admin, member and viewer: no page links to a page the role cannot open,
and the forms, navigation and statistics of a higher role are not shown."""

from __future__ import annotations

import re

import pytest

from deelrx.tenancy.models import User
from deelrx.tests.staff_pages import DEMO_ROLES, seed_and_list_pages

pytestmark = pytest.mark.django_db

MANAGERS = {"admin", "olivia", "adam"}  # superuser, owner, admin
WRITERS = MANAGERS | {"maria"}
_HREF = re.compile(r'href="(/[^"#?]*)"')


@pytest.fixture(scope="module")
def walk(django_db_setup, django_db_blocker):
    """{role: {path: (status, html)}} over every staff page: the demo seeded once for the
    module in a transaction rolled back before the tests read the pages."""
    from django.db import transaction
    from django.test import Client

    result = {}
    with django_db_blocker.unblock(), transaction.atomic():
        pages = seed_and_list_pages()
        for role in DEMO_ROLES:
            client = Client()
            client.force_login(User.objects.get(username=role))
            result[role] = {}
            for path in pages:
                response = client.get(path)
                result[role][path] = (response.status_code, response.content.decode())
        transaction.set_rollback(True)
    return result


def page(walk, role, path_start):
    return next(value for path, value in walk[role].items() if path.startswith(path_start))


@pytest.mark.parametrize("role", DEMO_ROLES)
def test_no_page_errs_and_none_links_to_a_page_the_role_cannot_open(walk, role):
    statuses = {path: status for path, (status, _) in walk[role].items()}
    assert set(statuses.values()) <= {200, 403}, statuses
    dead_links = []
    for path, (status, html) in walk[role].items():
        if status != 200:
            continue
        for link in set(_HREF.findall(html)):
            if statuses.get(link, 200) != 200:
                dead_links.append(f"{path} → {link}")
    assert dead_links == [], f"{role} is shown links to pages refused to him: {dead_links}"


@pytest.mark.parametrize("role", DEMO_ROLES)
def test_admin_operations_only_for_admins_owners_and_superusers(walk, role):
    _, dashboard = page(walk, role, "/")
    assert ('href="/ops/"' in dashboard) == (role in MANAGERS)
    assert ('id="ops-dashboard-title"' in dashboard) == (role in MANAGERS)  # the admin statistics
    _, ops = page(walk, role, "/ops/")  # reached by its address: a note, no tools
    assert ('href="/ops/purges/"' in ops) == (role in MANAGERS)


@pytest.mark.parametrize("role", DEMO_ROLES)
def test_forms_only_for_the_roles_that_may_send_them(walk, role):
    _, customers = page(walk, role, "/team/customers/")
    assert ('href="/team/customers/new/"' in customers) == (role in WRITERS)
    assert (page(walk, role, "/team/customers/new/")[0] == 200) == (role in WRITERS)
    _, credit = page(walk, role, "/credit/")
    assert ('href="/credit/accounts/new/"' in credit) == (role in MANAGERS)
    _, account = next((v for p, v in walk[role].items() if re.fullmatch(r"/credit/accounts/[0-9a-f-]{36}/", p)))
    assert ('id="record"' in account) == (role in WRITERS)
    assert ('id="settings"' in account) == (role in MANAGERS)
    _, members = page(walk, role, "/team/members/")
    assert ("Add a member" in members) == (role in MANAGERS)
    assert ("/remove/" in members) == (role in MANAGERS)
