"""Fill the maintained figures of 0004 from the ledger, a batch of accounts at a
time (each batch its own set-based statements, so a big ledger never sits in
one transaction's memory). Reversing needs nothing: 0004's reversal drops the
columns."""

from django.db import migrations

BATCH = 2_000


def backfill(apps, schema_editor):
    from credit.figures import figures_recompute

    CreditAccount = apps.get_model("credit", "CreditAccount")
    ids = CreditAccount.objects.order_by("pk").values_list("pk", flat=True)
    last = None
    while True:
        page = ids.filter(pk__gt=last) if last is not None else ids
        batch = list(page[:BATCH])
        if not batch:
            break
        figures_recompute(account_ids=batch)
        last = batch[-1]


class Migration(migrations.Migration):
    dependencies = [("credit", "0004_maintained_figures")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
