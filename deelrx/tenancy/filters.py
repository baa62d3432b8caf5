import django_filters
from django.db.models import Q

from deelrx.filters import StrictBooleanFilter
from deelrx.tenancy.models import Customer


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Name, email or phone contains")
    is_active = StrictBooleanFilter()

    class Meta:
        model = Customer
        fields = ["is_active"]

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
            | Q(phone__icontains=value)
        )
