"""Reads of this app, one module per area; `dashboard.dashboard_section(team=)` feeds the dashboard."""
