"""Writes of this app (the business rules), one module per area."""
