import factory

from credit.models import CreditAccount, CreditTransaction
from deelrx.tenancy.tests.factories import CustomerFactory, TeamFactory


class CreditAccountFactory(factory.django.DjangoModelFactory):
    """An account; balance_cents stays 0 — post transactions through the ledger service to move it."""

    class Meta:
        model = CreditAccount

    team = factory.SubFactory(TeamFactory)
    customer = factory.SubFactory(CustomerFactory, team=factory.SelfAttribute("..team"))
    credit_limit_cents = 100_000
    status = CreditAccount.Status.ACTIVE


class CreditTransactionFactory(factory.django.DjangoModelFactory):
    """A raw ledger row (does NOT move the balance): for list/filter tests only."""

    class Meta:
        model = CreditTransaction

    account = factory.SubFactory(CreditAccountFactory)
    team = factory.SelfAttribute("account.team")
    type = CreditTransaction.Type.CHARGE
    amount_cents = 1_000
    status = CreditTransaction.Status.PENDING
