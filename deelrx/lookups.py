"""ORM lookups the apps share."""

from __future__ import annotations

from django.db.models import Lookup


class EqualsAny(Lookup):
    """`column = ANY(%s)` with the values as one array parameter (PostgreSQL); `IN (…)` elsewhere.

    Used unregistered, as an expression: `Model.objects.filter(EqualsAny(F("pk"), ids))`.
    Where a column's statistics mislead the planner about one value (an account holding most of
    the ledger), `col IN (SELECT pk FROM parent WHERE pk = ANY(%s))` makes it estimate the child
    rows per parent on average instead of from that value's frequency: unlike `pk = %s` or
    `pk IN (%s)`, an ANY comparison is not propagated to the child column as a constant.
    """

    lookup_name = "equals_any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection) for value in self.rhs]
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(%s)", [*lhs_params, values]
        if not values:
            return "1 = 0", list(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]
