from django.core.management.base import BaseCommand, CommandError

from credit.services.ledger import verify_ledger
from deelrx.tenancy.models import Team


class Command(BaseCommand):
    help = (
        "Recompute every credit account's balance and maintained figures (pending debits, unpaid parts, oldest "
        "unpaid due date) from its ledger in one streamed query, and report the accounts whose stored figures "
        "differ. Exits 1 on any difference."
    )

    def add_arguments(self, parser):
        parser.add_argument("--team", type=int, help="Only this team's accounts (team id).")
        parser.add_argument(
            "--progress-every", type=int, default=10_000, help="Print progress every N accounts (default 10000)."
        )

    def handle(self, *args, team=None, progress_every=10_000, **options):
        team_obj = None
        if team is not None:
            team_obj = Team.objects.filter(pk=team).first()
            if team_obj is None:
                raise CommandError(f"No team with id {team}.")
        progress_every = max(1, progress_every)

        def progress(n: int) -> None:
            self.stdout.write(f"  checked {n} accounts…")

        mismatches = verify_ledger(team=team_obj, progress=progress, every=progress_every)
        for m in mismatches:
            self.stdout.write(
                f"MISMATCH account {m['account_id']} (team {m['team_id']}, customer {m['customer_id']}): "
                f"stored {m['balance_cents']} ledger {m['ledger_cents']} difference {m['difference_cents']}"
                f" ({'; '.join(m['problems'])})"
            )
        scope = f"team {team}" if team is not None else "all teams"
        if mismatches:
            raise CommandError(f"{len(mismatches)} account(s) do not match their ledger ({scope}).")
        self.stdout.write(
            self.style.SUCCESS(
                f"Ledger verified ({scope}): every balance matches its transactions, and so do pending debits, unpaid "
                "parts and oldest unpaid due dates."
            )
        )
