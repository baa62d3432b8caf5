"""HTML view helpers shared by the three apps: team resolution, domain errors
mapped to 404/403 pages and to form errors, the paginators (by page number, and by key
for lists that grow without bound). The browser follows the same
rules as the API because both call the same access checks and services."""

from __future__ import annotations

import base64
import datetime
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.http import Http404
from django.utils.cache import patch_vary_headers

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


# --- Keyset pages: lists that grow without bound (logs) ---------------------------------------
INVALID_CURSOR = "The page link is invalid; start again from the first page."


@dataclass
class KeysetPage:
    """A page of an HTML list read by key, not by offset (as the API's cursor
    pagination): `?cursor=` holds the key of the row the page continues from, so
    a page deep in a log costs what the first one costs and rows inserted
    meanwhile neither repeat nor vanish. Templates read it like `Page` (the one
    pager partial); it has no page number."""

    object_list: list[Any]
    next_cursor: str | None
    previous_cursor: str | None
    query: dict[str, str] = field(default_factory=dict)
    number = None  # no "Page N" in the pager: a keyset does not count

    def __iter__(self) -> Iterator[Any]:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_cursor is not None

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    def _url(self, cursor: str) -> str:
        return "?" + urlencode({**{k: v for k, v in self.query.items() if k != "cursor"}, "cursor": cursor})

    @property
    def next_url(self) -> str:
        return self._url(self.next_cursor or "")

    @property
    def previous_url(self) -> str:
        return self._url(self.previous_cursor or "")


class _KeyEncoder(DjangoJSONEncoder):
    def default(self, o):
        # to the microsecond: DjangoJSONEncoder keeps milliseconds, and a key must be exact
        return o.isoformat() if isinstance(o, datetime.datetime) else super().default(o)


def _encode_cursor(direction: str, key: list[Any]) -> str:
    raw = json.dumps({"d": direction, "k": key}, cls=_KeyEncoder, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, fields: list[Any]) -> tuple[str, list[Any]]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        direction, key = raw["d"], raw["k"]
        if direction not in ("n", "p") or not isinstance(key, list) or len(key) != len(fields):
            raise ValueError
        return direction, [model_field.to_python(value) for model_field, value in zip(fields, key, strict=True)]
    except (ValueError, TypeError, KeyError, AttributeError, DjangoValidationError):
        raise ValidationFailed(INVALID_CURSOR, details={"cursor": [INVALID_CURSOR]}) from None


def _after(ordering: tuple[str, ...], key: list[Any], *, forwards: bool) -> Q:
    """Rows after `key` in `ordering` (before it when not `forwards`): for
    (-created_at, -id), created_at < k0 OR (created_at = k0 AND id < k1)."""
    condition = Q(pk__in=[])
    equal = Q()
    for name, value in zip(ordering, key, strict=True):
        field_name = name.lstrip("-")
        descending = name.startswith("-")
        lookup = "lt" if descending == forwards else "gt"
        condition |= equal & Q(**{f"{field_name}__{lookup}": value})
        equal &= Q(**{field_name: value})
    return condition


def keyset_paginate(request, queryset, *, ordering: tuple[str, ...] = ("-created_at", "-id"), per_page: int = 50):
    """The one keyset paginator of HTML pages: the page's rows plus one, in one
    query, from `?cursor=`. `ordering` must end in a unique, non-null key (the
    primary key). A mangled cursor raises ValidationFailed (field `cursor`)."""
    model = queryset.model
    fields = [model._meta.get_field(name.lstrip("-")) for name in ordering]
    cursor = request.GET.get("cursor", "")
    direction, key = _decode_cursor(cursor, fields) if cursor else ("n", None)
    forwards = direction == "n"
    reversed_ordering = tuple(name[1:] if name.startswith("-") else f"-{name}" for name in ordering)
    rows = queryset.order_by(*(ordering if forwards else reversed_ordering))
    if key is not None:
        rows = rows.filter(_after(ordering, key, forwards=forwards))
    rows = list(rows[: per_page + 1])
    more = len(rows) > per_page
    rows = rows[:per_page] if forwards else rows[:per_page][::-1]

    def key_of(row) -> list[Any]:
        return [field.value_from_object(row) for field in fields]

    # Forwards, a previous page exists when we came from one; backwards, a next one does.
    has_next = more if forwards else key is not None
    has_previous = key is not None if forwards else more
    return KeysetPage(
        object_list=rows,
        next_cursor=_encode_cursor("n", key_of(rows[-1])) if rows and has_next else None,
        previous_cursor=_encode_cursor("p", key_of(rows[0])) if rows and has_previous else None,
        query={k: request.GET.get(k, "") for k in request.GET},
    )


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_partial(request) -> bool:
    """An htmx swap of a list, not a history restore: on a history cache miss (Back
    after hx-push-url) htmx asks for the pushed URL with HX-Request and
    HX-History-Restore-Request and needs the whole page."""
    return is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"


def vary_on_htmx(response):
    """One URL answers with the page or its rows: caches must keep them apart."""
    patch_vary_headers(response, ["HX-Request", "HX-History-Restore-Request"])
    return response
