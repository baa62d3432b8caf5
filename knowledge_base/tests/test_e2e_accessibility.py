"""Issue 11: axe-core finds no serious or critical accessibility violation on the knowledge
base's staff pages (article list, a search of it, every article state's page, the editor,
a proposal form) and on the public help center (index, search results with and without
matches, a "did you mean" search, an article), signed in and anonymous, at 1366 and 390 px.
The axe run and the CSP bypass are those of deelrx/tests/test_e2e_accessibility.py."""

from __future__ import annotations

import pytest

from deelrx.tests import test_e2e_accessibility as platform_axe
from deelrx.tests.staff_pages import seed_and_list_pages, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
AXE, RUN_AXE = platform_axe.AXE, platform_axe.RUN_AXE
axe_page = platform_axe.axe_page  # the fixture: a context that bypasses the CSP to inject axe
VIEWPORTS = [{"width": 1366, "height": 900}, {"width": 390, "height": 844}]


def kb_paths() -> tuple[list[str], list[str]]:
    """(staff paths, public paths) of the demo team's knowledge base."""
    from deelrx.tenancy.models import Team
    from knowledge_base.models import KbArticle

    seed_and_list_pages()
    team = Team.objects.get(slug="demo-pharmacy")
    staff = ["/kb/", "/kb/?q=credit", "/kb/?status=published", "/kb/new/"]
    for status in KbArticle.Status.values:
        article = KbArticle.objects.filter(team=team, status=status).first()
        if article is not None:
            staff += [f"/kb/{article.pk}/", f"/kb/{article.pk}/edit/"]
    published = KbArticle.objects.filter(team=team, status="published", is_public=True).order_by("slug").first()
    public = ["/help/", "/help/?q=credit", "/help/?q=zzzqqq", "/help/?q=credt"]
    if published is not None:
        staff.append(f"/kb/{published.pk}/propose/")
        public.append(f"/help/{team.slug}/{published.slug}/")
    return staff, public


def violations(page, paths: list[str]) -> list[str]:
    found = []
    for path in paths:
        response = page.goto(path)
        if response is None or response.status != 200:
            found.append(f"{path}: HTTP {response.status if response else '?'}")
            continue
        page.add_script_tag(path=str(AXE))
        found += [f"{path}: {violation}" for violation in page.evaluate(RUN_AXE)]
    return found


@pytest.mark.parametrize("axe_page", VIEWPORTS, ids=["1366", "390"], indirect=True)
@pytest.mark.parametrize("role", ["adam", "maria"])  # an admin (every control) and a member (propose)
def test_no_serious_violation_on_the_knowledge_base_pages(axe_page, role):
    staff, public = kb_paths()
    if role == "adam":  # the proposal form is a member's page
        staff = [path for path in staff if not path.endswith("/propose/")]
    else:
        staff = [path for path in staff if not path.endswith("/edit/") or "/kb/new/" in path]
    sign_in(axe_page, role)
    found = violations(axe_page, [*staff, *public])
    assert not found, "\n".join(found)


@pytest.mark.parametrize("axe_page", VIEWPORTS, ids=["1366", "390"], indirect=True)
def test_no_serious_violation_on_the_public_help_center(axe_page):
    _staff, public = kb_paths()
    found = violations(axe_page, public)
    assert not found, "\n".join(found)
