"""Reports read these daily rows (DESIGN §14), written by the `reports-snapshot` job,
never the whole ledger; and the searches people run (for zero-result reports)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CreditDaily(models.Model):
    """A team's credit figures in one currency at the end of one (local) day."""

    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    currency = models.CharField(max_length=3)
    limit_cents = models.BigIntegerField(default=0)
    balance_cents = models.BigIntegerField(default=0)
    pending_cents = models.BigIntegerField(default=0)
    overdue_cents = models.BigIntegerField(default=0)
    aging_current_cents = models.BigIntegerField(default=0)
    aging_1_30_cents = models.BigIntegerField(default=0)
    aging_31_60_cents = models.BigIntegerField(default=0)
    aging_61_90_cents = models.BigIntegerField(default=0)
    aging_90_plus_cents = models.BigIntegerField(default=0)
    charges_cents = models.BigIntegerField(default=0)
    debits_cents = models.BigIntegerField(default=0)
    payments_cents = models.BigIntegerField(default=0)
    credits_cents = models.BigIntegerField(default=0)
    accounts_active = models.IntegerField(default=0)
    accounts_suspended = models.IntegerField(default=0)
    accounts_defaulted = models.IntegerField(default=0)
    accounts_closed = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "day", "currency"], name="reports_credit_daily_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.team_id} {self.day} {self.currency}"


class KnowledgeBaseDaily(models.Model):
    """A team's knowledge base on one day: feedback and searches of that day."""

    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    views = models.BigIntegerField(null=True, blank=True, help_text="Null before views were recorded.")
    helpful = models.IntegerField(default=0)
    not_helpful = models.IntegerField(default=0)
    searches = models.IntegerField(default=0)
    zero_result_searches = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "day"], name="reports_kb_daily_unique")]

    def __str__(self) -> str:
        return f"{self.team_id} {self.day}"


class ArticleDaily(models.Model):
    """An article's running view count at the end of a day (its views in a range are
    the difference of two days)."""

    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    article_id = models.UUIDField()
    view_count = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "day", "article_id"], name="reports_article_daily_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} {self.day}"


class ActivityDaily(models.Model):
    """Events of one type by one user (null: the system) in a team on one day."""

    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    event_type = models.CharField(max_length=80)
    user_id = models.BigIntegerField(null=True, blank=True)
    count = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["team", "day"], name="reports_activity_team_day")]

    def __str__(self) -> str:
        return f"{self.team_id} {self.day} {self.event_type}"


class SearchRecord(models.Model):
    """One search someone ran: the help center's (one row per team whose public articles it
    found or offered as close matches; team null when it is about no team's article), the staff
    knowledge-base list's and the articles API's."""

    class Source(models.TextChoices):
        HELP_CENTER = "help_center", "Help center"
        STAFF = "staff", "Staff pages"
        API = "api", "API"

    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=12, choices=Source.choices)
    query = models.CharField(max_length=200)
    normalized = models.CharField(max_length=200, help_text="Lower-case, spaces collapsed: what is grouped.")
    result_count = models.IntegerField(help_text="Results on the first page (at most a page); 0: nothing matched.")
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["team", "created_at"], name="reports_search_team_time"),
            models.Index(fields=["created_at"], name="reports_search_time"),
        ]

    def __str__(self) -> str:
        return self.query
