"""Reads of the reports app: one module per report, and the access rule."""

from __future__ import annotations

from deelrx.tenancy.access import TeamAccess, get_team_access
from deelrx.tenancy.models import Role

# Decision: any member of the team reads its reports, viewers included (DESIGN §14): a
# report shows nothing a viewer cannot already read on the credit and KB pages.
REPORT_ROLE = Role.VIEWER


def report_access(user, team_id) -> TeamAccess:
    return get_team_access(user, team_id, min_role=REPORT_ROLE)


def can_read_reports(access: TeamAccess | None) -> bool:
    return access is not None and access.has_role(REPORT_ROLE)
