"""Demo data for `make run`. Idempotent: running it twice changes nothing."""

from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction

from deelrx.tenancy.models import Customer, Membership, Role, Team, User

DEMO_PASSWORD = "deelrx-demo"
DEMO_USERS = [
    # username, role in the demo team, superuser
    ("admin", Role.OWNER, True),
    ("olivia", Role.OWNER, False),
    ("adam", Role.ADMIN, False),
    ("maria", Role.MEMBER, False),
    ("victor", Role.VIEWER, False),
]
DEMO_CUSTOMERS = [
    ("Ada", "Lovelace", "ada@example.com"),
    ("Grace", "Hopper", "grace@example.com"),
    ("Alan", "Turing", "alan@example.com"),
    ("Katherine", "Johnson", "katherine@example.com"),
    ("Edsger", "Dijkstra", "edsger@example.com"),
    ("Barbara", "Liskov", "barbara@example.com"),
]
# Apps contribute their demo data with <app>.demo.seed_demo_data(team=..., users=...)
DEMO_APPS = ("credit", "knowledge_base", "admin_ops")


class Command(BaseCommand):
    help = "Create the demo team, users and data (idempotent) and print the demo logins."

    @transaction.atomic
    def handle(self, *args, **options):
        team, _ = Team.objects.get_or_create(slug="demo-pharmacy", defaults={"name": "Demo Pharmacy"})
        users = {}
        for username, role, superuser in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"email": f"{username}@deelrx.test", "is_staff": superuser, "is_superuser": superuser},
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            Membership.objects.get_or_create(user=user, team=team, defaults={"role": role})
            users[username] = user
        for first, last, email in DEMO_CUSTOMERS:
            Customer.objects.get_or_create(
                team=team, email=email, defaults={"first_name": first, "last_name": last, "phone": "+1 555 0100"}
            )
        for app in DEMO_APPS:
            try:
                module = import_module(f"{app}.demo")
            except ModuleNotFoundError:
                continue
            self.stdout.write(f"Seeding {app}…")
            module.seed_demo_data(team=team, users=users)
        self.stdout.write(self.style.SUCCESS(f"Demo team: {team.name} (id {team.pk})"))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, superuser in DEMO_USERS:
            self.stdout.write(f"  {username:<8} {role}{' + superuser' if superuser else ''}")
