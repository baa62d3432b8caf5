"""The audit log and its event registry (DESIGN §12): `models.ActivityEvent`,
`services.record_event`, `registry` of every event type."""
