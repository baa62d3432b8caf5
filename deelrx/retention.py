"""Retention hooks: each app registers how to find and delete its own expired
rows (in its AppConfig.ready), and the `admin-retention-enforce` job runs them
all without importing the apps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RetentionHook:
    name: str  # the key of its count in the job's summary
    delete_expired: Callable[[datetime], int]  # deletes what expired by then; returns how many
    count_expired: Callable[[datetime], int]  # what a dry run reports


_HOOKS: dict[str, RetentionHook] = {}


def register_retention_hook(name: str, *, delete_expired, count_expired) -> None:
    _HOOKS[name] = RetentionHook(name=name, delete_expired=delete_expired, count_expired=count_expired)


def retention_hooks() -> list[RetentionHook]:
    return [_HOOKS[name] for name in sorted(_HOOKS)]
