"""Stored events take the registry's names, `<app>.<entity>.<verb>` (DESIGN §12):

    team.* / membership.* / customer.*   → tenancy.team.* / tenancy.membership.* / tenancy.customer.*
    purge.operation.*                    → admin_ops.purge.*
    admin_ops.job.run_requested          → job.run.requested

One UPDATE each way (a CASE over prefixes): no row is loaded into Python.
Reversible: backwards restores the old names."""

from django.db import migrations
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Concat, Substr

# (old prefix, new prefix): a prefix ending in "." renames a family, anything else one type
RENAMES = [
    ("team.", "tenancy.team."),
    ("membership.", "tenancy.membership."),
    ("customer.", "tenancy.customer."),
    ("purge.operation.", "admin_ops.purge."),
    ("admin_ops.job.run_requested", "job.run.requested"),
]


def _matches(prefix: str) -> Q:
    return Q(event_type__startswith=prefix) if prefix.endswith(".") else Q(event_type=prefix)


def _rename(apps, pairs) -> None:
    # The historical model's plain manager: the append-only queryset's update() is not in play here.
    ActivityEvent = apps.get_model("audit", "ActivityEvent")
    condition = Q()
    cases = []
    for old, new in pairs:
        condition |= _matches(old)
        renamed = Concat(Value(new), Substr("event_type", len(old) + 1)) if old.endswith(".") else Value(new)
        cases.append(When(_matches(old), then=renamed))
    ActivityEvent.objects.filter(condition).update(event_type=Case(*cases, default=F("event_type")))


def forwards(apps, schema_editor):
    _rename(apps, RENAMES)


def backwards(apps, schema_editor):
    _rename(apps, [(new, old) for old, new in RENAMES])


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
