"""Routes for webhook subscriptions: make, list, change, remove, rotate the secret, the log, resend.

A subscription belongs to the caller who made it and is told only of the
events its owner may see (role and scope, judged as each event goes out).
A caller sees and changes its own subscriptions; an administrator or a
manager every one. Another's subscription answers 404, as an unknown one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime, Field

from stockflow.api.deps import IdPath, Sf
from stockflow.api.guard import Who, may
from stockflow.api.pages import Cursor, Limit, Page, page_of
from stockflow.api.problems import error_responses
from stockflow.api.schemas import Body, Out, RowId
from stockflow.errors import Forbidden
from stockflow.events import webhook_rules
from stockflow.events.rules import DeliveryStatus, SubscriptionStatus
from stockflow.events.webhook_front import WithSecret
from stockflow.events.webhooks import Changes, Redelivery
from stockflow.stock.rules.access import Action, Resource

router = APIRouter(tags=["webhooks"])
_READ = may(Resource.WEBHOOKS, Action.READ)
_WRITE = may(Resource.WEBHOOKS, Action.WRITE)

EventType = Annotated[str, Field(min_length=1, max_length=64)]
EventTypes = Annotated[
    list[EventType],
    Field(
        min_length=1,
        max_length=webhook_rules.MAX_EVENT_TYPES,
        description="Topics ('order.captured'), a family ('order.*') or everything ('*')",
    ),
]
Url = Annotated[str, Field(min_length=1, max_length=webhook_rules.MAX_URL)]
Description = Annotated[str, Field(max_length=webhook_rules.MAX_DESCRIPTION)]


class SubscriptionIn(Body):
    """A new subscription: where to send, which events, and a note."""

    url: Url = Field(description="An http:// or https:// endpoint that answers 2xx")
    event_types: EventTypes
    description: Description | None = None


class SubscriptionPatch(Body):
    """What to change; a field left out stays as it is."""

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    status: Literal["active", "paused"] | None = Field(
        default=None, description="paused: deliveries wait, nothing is lost; active again resumes"
    )


class SubscriptionOut(Out):
    """A subscription: never its secret."""

    id: int
    url: str
    description: str | None
    event_types: list[str]
    owner: str
    status: SubscriptionStatus
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    old_secret_until: datetime | None = Field(
        description="While a secret is being rotated: when the old one stops signing"
    )


class SubscriptionWithSecret(SubscriptionOut):
    """A subscription and its signing secret (whsec_...), shown this once."""

    secret: str


class AttemptOut(Out):
    """One try of a delivery."""

    attempted_at: datetime
    http_status: int | None = Field(description="None: no answer (refused, timed out)")
    error: str | None
    duration_ms: int


class DeliveryOut(Out):
    """One event's delivery to the subscription, with every try."""

    id: int
    event_id: int = Field(description="The event's id, sent as webhook-id")
    topic: str | None = Field(description="None once the event is no longer kept")
    sequence: int
    aggregate: str | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(
        description="When it is tried next; null while an earlier event of its aggregate"
        " is still on its way to this subscription (they go one at a time, in order)"
    )
    manual: bool = Field(description="Sent again by hand")
    last_status: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    tries: list[AttemptOut]


class RedeliverIn(Body):
    """Send again: one event, or every event queued for the subscription in a time range."""

    event_id: RowId | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = Field(default=None, description="Exclusive; default: now")


class RedeliveredOut(Out):
    """The events queued again, in stream order."""

    subscription_id: int
    event_ids: list[int]


def _with_secret(made: WithSecret) -> SubscriptionWithSecret:
    out = SubscriptionOut.model_validate(made.subscription)
    return SubscriptionWithSecret(**out.model_dump(), secret=made.secret)


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    dependencies=[_WRITE],
    responses=error_responses(403),
)
def create_subscription(sf: Sf, who: Who, body: SubscriptionIn) -> SubscriptionWithSecret:
    """Subscribe an endpoint; the answer holds its signing secret, shown this once.

    The endpoint is told of the events of the types named that the caller
    may see, signed as Standard Webhooks says (webhook-id, webhook-timestamp,
    webhook-signature).
    """
    made = sf.webhooks.subscribe(who.name, body.url, body.event_types, body.description)
    return _with_secret(made)


@router.get("/webhooks", dependencies=[_READ])
def list_subscriptions(
    sf: Sf,
    who: Who,
    owner: Annotated[
        str | None, Query(max_length=64, description="Only this user's (administrators)")
    ] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[SubscriptionOut]:
    """The caller's subscriptions (an administrator's or manager's: everyone's), oldest first."""
    if owner is not None and owner != who.name and not webhook_rules.oversees(who):
        raise Forbidden("only an administrator or a manager lists another's", field="owner")
    found = sf.webhooks.subscriptions(viewer=who, owner=owner, after=cursor, limit=limit)
    return page_of(Page[SubscriptionOut], found, SubscriptionOut.model_validate)


@router.get("/webhooks/{subscription_id}", dependencies=[_READ])
def get_subscription(sf: Sf, who: Who, subscription_id: IdPath) -> SubscriptionOut:
    """One subscription."""
    return SubscriptionOut.model_validate(sf.webhooks.subscription(subscription_id, viewer=who))


@router.patch("/webhooks/{subscription_id}", dependencies=[_WRITE])
def change_subscription(
    sf: Sf, who: Who, subscription_id: IdPath, body: SubscriptionPatch
) -> SubscriptionOut:
    """Change the URL, event types, note, or pause and resume (active again after a 410 too)."""
    sent = body.model_fields_set
    changes = Changes(
        url=body.url,
        event_types=tuple(body.event_types) if body.event_types is not None else None,
        description=body.description,
        clear_description="description" in sent and body.description is None,
        status=SubscriptionStatus(body.status) if body.status is not None else None,
    )
    return SubscriptionOut.model_validate(sf.webhooks.change(subscription_id, changes, viewer=who))


@router.delete(
    "/webhooks/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[_WRITE]
)
def remove_subscription(sf: Sf, who: Who, subscription_id: IdPath) -> None:
    """Remove a subscription with its delivery log; nothing more is sent to it."""
    sf.webhooks.remove(subscription_id, viewer=who)


@router.post("/webhooks/{subscription_id}/rotate-secret", dependencies=[_WRITE])
def rotate_secret(sf: Sf, who: Who, subscription_id: IdPath) -> SubscriptionWithSecret:
    """A new signing secret, shown this once; the old one goes on signing for a while (24 h)."""
    return _with_secret(sf.webhooks.rotate_secret(subscription_id, viewer=who))


@router.get("/webhooks/{subscription_id}/deliveries", dependencies=[_READ])
def delivery_log(
    sf: Sf,
    who: Who,
    subscription_id: IdPath,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[DeliveryOut]:
    """The delivery log, newest first, with every try; ``status=dead`` lists the dead letters."""
    found = sf.webhooks.deliveries(
        subscription_id, status=delivery_status, after=cursor, limit=limit, viewer=who
    )
    return page_of(Page[DeliveryOut], found, DeliveryOut.model_validate)


_REDELIVER: dict[int | str, dict[str, Any]] = error_responses(409)
_REDELIVER[409]["description"] = "Some of the events are no longer kept; they are named"


@router.post(
    "/webhooks/{subscription_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[_WRITE],
    responses=_REDELIVER,
)
def redeliver(sf: Sf, who: Who, subscription_id: IdPath, body: RedeliverIn) -> RedeliveredOut:
    """Send events again, by hand, delivered ones too: one event, or a time range's.

    The range is of when the events were first queued for this subscription.
    An event no longer kept is refused with 409 naming it; nothing is queued.
    """
    wanted = Redelivery(event_id=body.event_id, since=body.since, until=body.until)
    done = sf.webhooks.redeliver(subscription_id, wanted, viewer=who)
    return RedeliveredOut(subscription_id=done.subscription_id, event_ids=list(done.event_ids))
