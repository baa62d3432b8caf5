"""The event registry (DESIGN §12): one declaration per event type, one naming
scheme, a sentence for each, and no audit row of a type nobody declared."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from deelrx.audit import registry
from deelrx.audit.models import ActivityEvent
from deelrx.audit.registry import NAME, EventType, UnknownEventType, register_event_types
from deelrx.audit.services import record_event, record_events

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("deelrx", "credit", "knowledge_base", "admin_ops", "bench")
# Where an event type is passed on rather than written out (file, expression): the writer
# itself, the purge service's `_event` helper (its callers' literals are checked), the
# Django admin's `admin.<model>.<verb>` (registered per model), the credit webhook's table,
# tables of types (checked as tables), and rows made from a table (demo, benchmark).
PASSED_ON = {
    ("deelrx/audit/services.py", "event_type"),
    ("admin_ops/services/purge.py", "event_type"),
    ("deelrx/admin_audit.py", "f'admin.{obj._meta.model_name}.{action}'"),
    ("credit/services/payments.py", "_WEBHOOK_EVENTS[status]"),
    ("knowledge_base/services/articles.py", "TRANSITION_EVENTS[move]"),
    ("admin_ops/selectors/activity.py", "value"),  # the log's filter: the type asked for
    ("admin_ops/demo.py", "event_type"),
    ("knowledge_base/services/proposals.py", "event_type"),  # `_close`'s callers' literals are checked
    ("knowledge_base/services/versions.py", "event_type"),  # `_store_new_version`'s callers' literals are checked
    ("bench/bench_activity_list.py", "_EVENT_TYPES[i % len(_EVENT_TYPES)]"),
    ("bench/bench_credit_jobs.py", "f\"'{event_type}'\""),  # quoted for SQL; the callers' literals are checked
}


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _is_literal(node: ast.AST) -> bool:
    """A string, or a choice between strings (`"a" if x else "b"`)."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    return isinstance(node, ast.IfExp) and _is_literal(node.body) and _is_literal(node.orelse)


def _is_module_path(text: str) -> bool:
    """ "credit.api.urls" (an include) or "credit.services.limits" (a benchmark's patch target)."""
    try:
        return importlib.util.find_spec(text) is not None
    except (ImportError, ValueError):
        return False


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def event_types_in_code() -> tuple[dict[str, list[str]], list[str]]:
    """(every literal event type → where it is used, the non-literal uses).

    Found: `event_type=` arguments; `"event_type": …` in dict literals (the
    batches of `record_events`); string arguments of functions named `*_event`
    (e.g. the purge service's `_event(purge, "admin_ops.purge.requested")`);
    the strings of module constants named `*_EVENTS` or `*_EVENT_TYPES`
    (tables of types, e.g. a transition → its event); and any other string
    shaped like a type under a registered app's prefix that is not a module
    path (a helper's argument: `_close(…, "kb.proposal.accepted")`)."""
    found: dict[str, list[str]] = {}
    dynamic: list[str] = []
    prefixes = {event_type.app for event_type in registry.event_types()}

    def add(value: str, where: str) -> None:
        found.setdefault(value.strip("'"), []).append(where)  # a benchmark's SQL literal is quoted

    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts:
                continue
            relative = "/".join(parts)
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                where = f"{relative}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Call):
                    for keyword in node.keywords:
                        if keyword.arg == "event_type":
                            if _is_literal(keyword.value):
                                for value in _strings(keyword.value):
                                    add(value, where)
                            elif (relative, ast.unparse(keyword.value)) not in PASSED_ON:
                                dynamic.append(f"{where}: {ast.unparse(keyword.value)}")
                    if _call_name(node).endswith("_event"):
                        for arg in node.args:
                            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                                add(arg.value, where)
                elif isinstance(node, ast.Dict):
                    for key, value in zip(node.keys, node.values, strict=True):
                        if isinstance(key, ast.Constant) and key.value == "event_type":
                            if _is_literal(value):
                                for text in _strings(value):
                                    add(text, where)
                            elif (relative, ast.unparse(value)) not in PASSED_ON:
                                dynamic.append(f"{where}: {ast.unparse(value)}")
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    text = node.value.strip("'")
                    if NAME.match(text) and text.split(".")[0] in prefixes and not _is_module_path(text):
                        add(text, where)
                elif isinstance(node, ast.Assign | ast.AnnAssign):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    names = [t.id for t in targets if isinstance(t, ast.Name)]
                    if any(n.endswith(("_EVENTS", "_EVENT_TYPES")) for n in names) and node.value is not None:
                        for text in _strings(node.value):
                            if NAME.match(text):
                                add(text, where)
    return found, dynamic


def test_every_event_type_used_in_the_code_is_registered():
    found, _dynamic = event_types_in_code()
    assert len(found) > 40  # the walk sees the services of every app
    unregistered = {name: where for name, where in found.items() if not registry.is_registered(name)}
    assert unregistered == {}


def test_event_types_are_written_literally():
    """A type built at run time (an f-string, a concatenation) escapes the check
    above and grep: write each one out (a table of them is fine)."""
    _found, dynamic = event_types_in_code()
    assert dynamic == []


def test_every_registered_name_follows_the_scheme():
    apps = {"tenancy", "credit", "kb", "admin_ops", "job", "admin"}
    for event_type in registry.event_types():
        assert NAME.match(event_type.name), event_type.name
        assert event_type.app in apps, event_type.name
        assert event_type.label, event_type.name
        assert "{actor}" in event_type.sentence, event_type.name


def test_the_old_schemes_are_gone():
    names = {t.name for t in registry.event_types()}
    old = [n for n in names if n.startswith(("team.", "membership.", "customer.", "purge.", "admin_ops.job."))]
    assert old == []
    assert {"tenancy.customer.created", "admin_ops.purge.completed", "job.run.requested"} <= names


def test_every_registered_type_says_a_sentence_from_empty_data():
    """An older event may lack keys a sentence names: it still reads, with a dash."""
    for event_type in registry.event_types():
        text = registry.sentence(event_type.name, {}, actor="alice")
        assert text.startswith("alice") or "alice" in text, event_type.name
        assert "{" not in text, event_type.name


@pytest.mark.django_db
def test_record_event_refuses_an_unregistered_type(team):
    with pytest.raises(UnknownEventType, match="not registered"):
        record_event(event_type="credit.account.vanished", team=team)
    assert not ActivityEvent.objects.exists()


@pytest.mark.django_db
def test_record_events_refuses_a_batch_with_an_unregistered_type(team):
    batch = [
        {"event_type": "credit.limit.frozen", "team_id": team.pk, "data": {}},
        {"event_type": "credit.limit.melted", "team_id": team.pk, "data": {}},
    ]
    with pytest.raises(UnknownEventType):
        record_events(batch)
    assert not ActivityEvent.objects.exists()  # nothing of the batch is written


@pytest.mark.django_db
def test_record_event_accepts_a_registered_type(team, owner):
    event = record_event(event_type="tenancy.customer.created", team=team, user=owner, data={"name": "Ada"})
    assert event.pk is not None
    assert registry.event_sentence(event) == "alice created the customer Ada"


def test_a_name_outside_the_scheme_cannot_be_registered():
    from django.core.exceptions import ImproperlyConfigured

    for bad in ("customer.created", "kb.article", "credit.Account.created", "kb.article.published.twice"):
        with pytest.raises(ImproperlyConfigured):
            register_event_types("kb", "Knowledge base", [EventType(bad, "x", "{actor}")])
    with pytest.raises(ImproperlyConfigured):  # another app's prefix
        register_event_types("credit", "Credit", [EventType("kb.article.stolen", "x", "{actor}")])


def test_a_type_cannot_be_declared_twice_differently():
    from django.core.exceptions import ImproperlyConfigured

    same = registry.get_event_type("kb.article.published")
    register_event_types("kb", "Knowledge base", [same])  # again, the same: a no-op
    with pytest.raises(ImproperlyConfigured, match="twice"):
        register_event_types("kb", "Knowledge base", [EventType(same.name, "Other", "{actor} did it")])


def test_choices_are_grouped_by_app_and_prefixes_cover_apps_and_entities():
    groups = dict(registry.event_type_choices())
    assert ("kb.article.published", "Article published (kb.article.published)") in groups["Knowledge base"]
    assert all(name.startswith("admin_ops.") for name, _ in groups["Admin operations"])
    prefixes = [value for value, _ in registry.event_prefix_choices()]
    assert {"admin_ops.", "admin_ops.purge.", "credit.", "credit.transaction.", "tenancy.customer."} <= set(prefixes)
    assert registry.matches_prefix("admin_ops.")
    assert not registry.matches_prefix("nothing.")


# --- Sentences ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("event_type", "data", "actor", "expected"),
    [
        (
            "credit.transaction.created",
            {"type": "charge", "amount_cents": 123456, "status": "completed", "account_id": "0f1e2d3c-aaaa"},
            "maria",
            "maria recorded a charge of 1,234.56 (completed) on credit account 0f1e2d3c",
        ),
        (
            "credit.limit.changed",
            {"account_id": "abcdef012345", "old": 50000, "new": 75000, "reason": "", "source": "automatic"},
            None,
            "The system changed the credit limit of account abcdef01 from 500.00 to 750.00 (automatic)",
        ),
        (
            "credit.payment.webhook_completed",
            {"transaction_id": "12345678-9"},
            None,
            "Stripe reported the card payment of transaction 12345678 completed",
        ),
        (
            "tenancy.customer.updated",
            {"customer_id": "c0ffee00-1", "changed": ["email", "phone"]},
            "adam",
            "adam changed email, phone of customer c0ffee00",
        ),
        (
            "admin_ops.purge.completed",
            {"purge_id": "9a8b7c6d-5", "records_affected": {"customers": 2, "activity_events": 5}},
            None,
            "The system completed purge 9a8b7c6d: 7 row(s) deleted",
        ),
        (
            "kb.article.changes_requested",
            {"title": "Returns", "note": "Add a table"},
            "adam",
            "adam sent the article “Returns” back to draft: “Add a table”",
        ),
        (
            "kb.article.changes_requested",
            {"title": "Returns", "note": ""},
            "adam",
            "adam sent the article “Returns” back to draft",
        ),
        (
            "kb.feedback.created",
            {"article_id": "aa11bb22-3", "helpful": False},
            None,
            "A reader found article aa11bb22 not helpful",
        ),
        (
            "job.run.requested",
            {"job": "credit-overdue-check", "dry_run": True},
            "root",
            "root asked for a dry run of the job credit-overdue-check now",
        ),
        (
            "tenancy.membership.suspended",
            {"member_id": 7, "reason": "inactive 90 days"},
            None,
            "The system suspended member #7: inactive 90 days",
        ),
        # A row whose type the registry no longer knows is said by its name.
        ("auth.login", {}, "victor", "victor: auth.login"),
        # Data the sentence needs but the row lacks: a dash, never an error.
        (
            "credit.limit.changed",
            {"account_id": "abcdef012345"},
            "adam",
            "adam changed the credit limit of account abcdef01 from — to — (—)",
        ),
    ],
)
def test_sentences(event_type, data, actor, expected):
    assert registry.sentence(event_type, data, actor=actor) == expected


def test_values_are_not_templates():
    """A title with braces is text, not a placeholder."""
    text = registry.sentence("kb.article.published", {"title": "{actor} {0} {__class__}"}, actor="olivia")
    assert text == "olivia published the article “{actor} {0} {__class__}”"


def test_django_admin_types_are_registered_per_model():
    assert registry.is_registered("admin.creditaccount.changed")
    assert registry.is_registered("admin.team.deleted")
    assert (
        registry.sentence("admin.team.changed", {"repr": "Acme"}, actor="root")
        == "root changed the team “Acme” in the Django admin"
    )
