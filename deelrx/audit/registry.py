"""The event registry (DESIGN §12): every audit event type is declared once,
named `<app>.<entity>.<verb>`, with a label and a one-line sentence.

Each app declares its own types in its `events.py` and registers them from its
AppConfig.ready (the platform imports no app). `record_event` refuses a type
that is not registered; the activity log, its filters and its CSV read the
registry to say an event in words:

    EventType("kb.article.published", "Article published", "{actor} published the article “{title}”")

A sentence's placeholders are the event's data keys plus `actor` (the acting
user's name); `describe` may add derived values (money from cents, a short id).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from deelrx.formats import format_amount, format_money

NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
SYSTEM_ACTOR = "The system"
MISSING = "—"  # a placeholder the event's data does not have (an older event)


class UnknownEventType(ValueError):
    """An event type nobody registered: a programming error, not a user's."""


@dataclass(frozen=True)
class Audience:
    """Who is told of an event of this type by default (DESIGN §13), declared with
    the type so that the platform never imports the app that notifies. The
    notifications app reads it; the actor is never among the recipients, and only
    members of the event's team are (superusers for team-less platform events).

    - `roles`: the event team's members with one of these roles;
    - `data_users`: keys of the event's data holding a user id or a list of them
      (the article's author, the purge's requester, the members warned);
    - `superusers`: every active superuser;
    - `when(data, by_system)`: only events that pass (e.g. an account moved to
      suspended by the overdue job, not by a person);
    - `link(data, team_id)`: the page the notification opens, or "".
    """

    roles: tuple[str, ...] = ()
    data_users: tuple[str, ...] = ()
    superusers: bool = False
    when: Callable[[Mapping[str, Any], bool], bool] | None = None
    link: Callable[[Mapping[str, Any], int | None], str] | None = None


@dataclass(frozen=True)
class EventType:
    name: str  # "<app>.<entity>.<verb>"
    label: str  # short, for choice lists: "Article published"
    sentence: str  # "{actor} published the article “{title}”"
    # derived placeholder values from the event's data (e.g. money from cents)
    describe: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    anonymous_actor: str = SYSTEM_ACTOR  # who {actor} is when no user is recorded
    notify: Audience | None = None  # default recipients of a notification (DESIGN §13); None: nobody

    @property
    def app(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def family(self) -> str:
        """`<app>.<entity>`: the prefix a filter can ask for."""
        return self.name.rsplit(".", 1)[0]


_TYPES: dict[str, EventType] = {}
_APPS: dict[str, str] = {}  # app prefix → its name in choice lists ("Knowledge base")


def register_event_types(app: str, verbose_name: str, types: Iterable[EventType]) -> None:
    """Declare `app`'s event types. Registering the same declaration again is a
    no-op (a test may call ready() twice); a different one under a taken name
    is a configuration error."""
    for event_type in types:
        if not NAME.match(event_type.name) or event_type.app != app:
            raise ImproperlyConfigured(f"Event type {event_type.name!r} is not named '{app}.<entity>.<verb>'.")
        known = _TYPES.get(event_type.name)
        if known is not None and known != event_type:
            raise ImproperlyConfigured(f"Event type {event_type.name!r} is registered twice.")
        _TYPES[event_type.name] = event_type
    _APPS[app] = verbose_name


def get_event_type(name: str) -> EventType:
    try:
        return _TYPES[name]
    except KeyError:
        raise UnknownEventType(
            f"Event type {name!r} is not registered; declare it in its app's events.py (DESIGN §12)."
        ) from None


def is_registered(name: str) -> bool:
    return name in _TYPES


def require_registered(name: str) -> None:
    get_event_type(name)


def notified_event_types() -> list[EventType]:
    """The types that notify someone by default (their preferences are per type)."""
    return [t for t in event_types() if t.notify is not None]


def event_types() -> list[EventType]:
    return [_TYPES[name] for name in sorted(_TYPES)]


def _apps_in_order() -> list[str]:
    return sorted({t.app for t in _TYPES.values()}, key=lambda app: _APPS[app].lower())


def event_type_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every registered type, grouped by app (for a `<select>` with optgroups)."""
    return [
        (_APPS[app], [(t.name, f"{t.label} ({t.name})") for t in event_types() if t.app == app])
        for app in _apps_in_order()
    ]


def event_prefix_choices() -> list[tuple[str, str]]:
    """The prefixes a filter can ask for: each app (`admin_ops.`) and each of its
    entities (`admin_ops.purge.`), in the order of `event_type_choices`."""
    choices = []
    for app in _apps_in_order():
        choices.append((f"{app}.", f"{_APPS[app]}: everything ({app}.)"))
        for family in sorted({t.family for t in _TYPES.values() if t.app == app}):
            choices.append((f"{family}.", f"{_APPS[app]}: {family.split('.', 1)[1].replace('_', ' ')} ({family}.)"))
    return choices


def matches_prefix(prefix: str) -> bool:
    """Whether a registered type starts with `prefix` (ending in ".")."""
    return any(name.startswith(prefix) for name in _TYPES)


# --- Sentences ---------------------------------------------------------------------
def _text(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(str(key) for key in value) or "nothing"
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value) or "none"
    return str(value)


class _Values(dict):
    def __missing__(self, key: str) -> str:
        return MISSING


def sentence(event_type: str, data: Mapping[str, Any] | None, *, actor: str | None) -> str:
    """The event in words. A type that is no longer registered (a row older than
    the registry) is said by its name."""
    data = data if isinstance(data, Mapping) else {}
    known = _TYPES.get(event_type)
    if known is None:
        return f"{actor or SYSTEM_ACTOR}: {event_type}"
    values = dict(data)
    if known.describe is not None:
        # an older event without the data the description needs: its raw values stay
        with contextlib.suppress(KeyError, TypeError, ValueError):
            values.update(known.describe(data))
    values = _Values({key: _text(value) for key, value in values.items()})
    values["actor"] = actor or known.anonymous_actor
    return known.sentence.format_map(values)


def event_sentence(event) -> str:
    """An ActivityEvent in words (its user joined: no query)."""
    actor = event.user.username if event.user_id else None
    return sentence(event.event_type, event.event_data, actor=actor)


def event_label(event_type: str) -> str:
    known = _TYPES.get(event_type)
    return known.label if known is not None else event_type


# --- Helpers for `describe` ------------------------------------------------------------
def money(cents: Any, currency: str | None = None) -> str:
    """Money as every page writes it (deelrx.formats): 12345, "usd" → "$123.45"; without a
    currency (events recorded before they carried one) the bare amount, "123.45"."""
    if cents is None or cents == "":
        return MISSING
    return format_money(cents, currency) if currency else format_amount(cents)


def short_id(value: Any) -> str:
    """The first 8 characters of a uuid: enough to tell rows apart in a sentence."""
    return str(value)[:8] if value not in (None, "") else MISSING
