"""Settings, read from ``STOCKFLOW_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from stockflow.errors import InvalidInput
from stockflow.events.webhook_rules import DEFAULT_SCHEDULE, parse_schedule


class Settings(BaseSettings):
    """Where the database is, how the server listens and where events go out."""

    model_config = SettingsConfigDict(env_prefix="STOCKFLOW_")

    database_url: str = "sqlite:///stockflow.db"
    host: str = "127.0.0.1"
    port: int = 8000
    reservation_workers: int = 1  # transactions that batch reservations at once
    max_body_bytes: int = 1_048_576  # a request body may be at most this long (1 MiB)
    cookie_secure: bool = True  # session cookies only over HTTPS (browsers count localhost as such)
    rate_limit: float = 50.0  # order captures and reservations a second, per token or user
    # Events out
    relay: bool = True  # `stockflow serve` runs a relay process beside it (one relays at a time)
    event_retention_hours: float = 168.0  # published events are kept a week, then pruned
    relay_batch: int = 500  # events sequenced and published per transaction
    relay_poll_seconds: float = 0.05  # how often an idle relay looks for new events
    stream_keepalive_seconds: float = 15.0  # a live stream's comment line when quiet
    stream_poll_seconds: float = 0.25  # how often a live stream looks for new events
    # Events out to NATS JetStream
    nats_url: str | None = None  # NATS server events go out to (nats://host:4222); None: off
    nats_stream: str = "STOCKFLOW"  # JetStream stream of subjects <prefix>.<topic>, made if needed
    # the subjects' first part: stockflows sharing one NATS server each need their own
    nats_subject_prefix: str = Field(default="stockflow", pattern=r"^[A-Za-z0-9_-]+$")
    # seconds JetStream remembers a message id, so a batch published again is stored once
    nats_duplicate_window: int = Field(default=7200, gt=0)
    # Webhooks: the wait before each try ("0,5s,5m,30m,2h,5h,10h,10h"), each try's time limit
    # in seconds, requests in flight at once, and how long a rotated-out secret goes on signing.
    webhook_schedule: str = DEFAULT_SCHEDULE
    webhook_timeout: float = 10.0
    webhook_concurrency: int = 32
    webhook_rotation_hours: float = 24.0

    @field_validator("webhook_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        try:
            parse_schedule(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
        return value

    def webhook_waits(self) -> tuple[timedelta, ...]:
        """The webhook schedule: the wait before each try."""
        return parse_schedule(self.webhook_schedule)

    @property
    def webhook_overlap(self) -> timedelta:
        """How long a rotated-out webhook secret goes on signing."""
        return timedelta(hours=self.webhook_rotation_hours)
