"""FilterSets shared by the credit API and the HTML pages."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q

from credit.models import CreditAccount, CreditTransaction


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


class CreditAccountFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=CreditAccount.Status.choices)
    customer_id = django_filters.UUIDFilter(field_name="customer_id")
    q = django_filters.CharFilter(method="search", label="Customer name or email contains")

    class Meta:
        model = CreditAccount
        fields = ["status", "customer_id"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(customer__first_name__icontains=value)
            | Q(customer__last_name__icontains=value)
            | Q(customer__email__icontains=value)
        )


class CreditTransactionFilter(django_filters.FilterSet):
    customer_id = django_filters.UUIDFilter(field_name="account__customer_id")
    credit_id = django_filters.UUIDFilter(field_name="account_id")
    type = django_filters.ChoiceFilter(choices=CreditTransaction.Type.choices)
    status = django_filters.ChoiceFilter(choices=CreditTransaction.Status.choices)
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", label="Created at or after (ISO 8601)"
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="Created before (ISO 8601)"
    )
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lt", label="Due before (date)")
    min_amount_cents = IntegerFilter(field_name="amount_cents", lookup_expr="gte")
    max_amount_cents = IntegerFilter(field_name="amount_cents", lookup_expr="lte")

    class Meta:
        model = CreditTransaction
        fields = ["type", "status"]
