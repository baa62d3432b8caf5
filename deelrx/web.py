"""HTML view helpers shared by the three apps: team resolution, domain errors
mapped to 404/403 pages and to form errors, the one paginator. The browser follows the same
rules as the API because both call the same access checks and services."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404

from deelrx.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from deelrx.inputs import parse_id
from deelrx.tenancy.access import TeamAccess, get_team_access
from deelrx.tenancy.models import Role


def resolve_team_access(request, *, min_role: str = Role.VIEWER) -> TeamAccess:
    team_id = request.get_current_team_id()
    if team_id is None:
        raise Http404("You are not a member of any team yet.")
    try:
        return get_team_access(request.user, team_id, min_role=min_role)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from None


def team_view(min_role: str = Role.VIEWER, *, write_role: str | None = None):
    """Decorate an HTML view working in the current team.

    `min_role` guards every request; `write_role` (default: member) guards
    POST/PUT/PATCH/DELETE. Sets `request.team_access`.
    """

    def decorator(view):
        @login_required
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            needed = min_role
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                needed = write_role or (min_role if min_role != Role.VIEWER else Role.MEMBER)
            request.team_access = resolve_team_access(request, min_role=needed)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def domain_error_text(exc: DomainError) -> str:
    """A refusal as one sentence for a flash message: the field messages when
    there are any (they say what is wrong), else the error's message."""
    if not isinstance(exc, ValidationFailed):
        return exc.message  # other errors' details are data (e.g. the allowed statuses), not sentences
    found = [m for v in (exc.details or {}).values() if isinstance(v, list) for m in v if isinstance(m, str)]
    return " ".join(found) or exc.message


def add_domain_error_to_form(form, exc: DomainError) -> None:
    """Show a service's refusal on the form that caused it."""
    if exc.details and all(isinstance(v, list) for v in exc.details.values()):
        for field, messages in exc.details.items():
            target = field if field in form.fields else None
            for message in messages:
                form.add_error(target, message)
    else:
        form.add_error(None, exc.message)


# A larger page number would overflow the database's OFFSET (decision 17).
MAX_PAGE_NUMBER = 1_000_000


@dataclass
class Page:
    """A page of an HTML list without a total (as the API's `PagePagination`): one
    row more than the page says whether a next page exists, so a page costs one
    query on any table size and links to the previous and next page, never
    "page X of Y". Iterates like Django's Page, so templates read it alike."""

    object_list: list[Any]
    number: int
    has_next: bool
    query: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    def _url(self, number: int) -> str:
        params = {k: v for k, v in self.query.items() if k != "page"}
        if number > 1:
            params["page"] = str(number)
        return "?" + urlencode(params)

    @property
    def previous_url(self) -> str:
        return self._url(self.number - 1)

    @property
    def next_url(self) -> str:
        return self._url(self.number + 1)


def page_number(request) -> int:
    """`?page=` as a number from 1 to MAX_PAGE_NUMBER; anything else is page 1."""
    number = parse_id(request.GET.get("page", "1"))
    return min(number, MAX_PAGE_NUMBER) if number else 1


def paginate(request, queryset, *, per_page: int = 25) -> Page:
    """The one HTML paginator: the page's rows plus one, in one query."""
    number = page_number(request)
    offset = (number - 1) * per_page
    rows = list(queryset[offset : offset + per_page + 1])
    return Page(
        object_list=rows[:per_page],
        number=number,
        has_next=len(rows) > per_page,
        query={k: request.GET.get(k, "") for k in request.GET},
    )


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"
