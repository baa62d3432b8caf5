"""Issue 11: every staff page is usable on a 390 px phone as each demo role: the page never
scrolls sideways (wide tables scroll inside themselves), and the account page's ledger
amounts stay reachable."""

from __future__ import annotations

import pytest

from deelrx.tests.staff_pages import DEMO_ROLES, seed_and_list_pages, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
OVERFLOW = "[document.documentElement.scrollWidth, window.innerWidth]"
# The outermost elements sticking out of the screen: what to fix.
CULPRITS = """(() => {
  const out = [];
  const over = (el) => el.getBoundingClientRect().right > window.innerWidth + 1;
  for (const el of document.body.querySelectorAll("*")) {
    if (over(el) && el.parentElement && !over(el.parentElement)) {
      out.push(`${el.parentElement.tagName.toLowerCase()}.${[...el.parentElement.classList].join(".")} > `
        + `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${[...el.classList].join(".")} `
        + `right=${Math.round(el.getBoundingClientRect().right)}`);
    }
  }
  return out.slice(0, 4);
})()"""


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("role", DEMO_ROLES)
def test_no_staff_page_scrolls_sideways_at_390px(phone, role):
    pages = seed_and_list_pages()
    sign_in(phone, role)
    wide, seen = [], 0
    for path in pages:
        response = phone.goto(path)
        if response.status != 200:
            continue  # not this role's page (the visibility test checks which are)
        seen += 1
        scroll_width, inner_width = phone.evaluate(OVERFLOW)
        if scroll_width > inner_width:
            wide.append(f"{path}: {scroll_width}px {phone.evaluate(CULPRITS)}")
    assert seen >= 10
    assert wide == [], f"{role}: pages wider than the 390 px screen: {wide}"
