"""The audit event types of the jobs platform (DESIGN §12), registered from JobsConfig.ready."""

from __future__ import annotations

from deelrx.audit.registry import Audience, EventType, register_event_types

EVENT_TYPES = [
    EventType(
        "job.run.requested",
        "Job run requested",
        "{actor} asked for a {kind} of the job {job} now",
        describe=lambda data: {"kind": "dry run" if data.get("dry_run") else "run"},
    ),
    # DESIGN §13: a failed run → the superusers (who run jobs)
    EventType(
        "job.run.failed",
        "Job run failed",
        "{actor} ran the job {job}, which failed: {error}",
        notify=Audience(superusers=True, link=lambda data, team_id: "/ops/jobs/"),
    ),
]


def register() -> None:
    register_event_types("job", "Jobs", EVENT_TYPES)
