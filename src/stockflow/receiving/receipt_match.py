"""What a receipt is compared against: its PO (locked), its ASN, or nothing, line by line.

Receipt lines are gathered per PO line, so two lots of one line are judged
together; a SKU the PO does not have is judged against nothing expected, and
an ASN line nothing came for is judged too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, select

from stockflow.adapters.tables import asn_lines, asns, incoming_supply, locations, skus
from stockflow.errors import InvalidInput
from stockflow.receiving.purchasing import line_skus, lock_po, receiving_location
from stockflow.receiving.queries import asn_seen
from stockflow.receiving.rules.purchasing import (
    Expectation,
    ReceiptLineIn,
    Receive,
    UnknownAsn,
    next_po_status,
    outstanding,
    receipt_event,
)
from stockflow.stock import lookup
from stockflow.stock.rules.access import EVERYWHERE, Scope, require_location


@dataclass(frozen=True, slots=True)
class PoLine:
    """One PO line as a receipt compares against it."""

    sku_id: int
    sku: str
    qty: int
    received: int


@dataclass(frozen=True, slots=True)
class Document:
    """What a delivery is compared against: a PO (with the ASN's announced units), or nothing."""

    location: lookup.LocationRef
    po: Row[Any] | None
    asn_id: str | None
    po_lines: dict[int, PoLine]
    announced: dict[int, int] | None  # units per PO line when against an ASN

    def expected(self, po_line_no: int | None) -> int | None:
        """Units expected for a PO line; None on a blind receipt, 0 for a SKU not on the PO."""
        if self.po is None:
            return None
        if po_line_no is None:
            return 0
        if self.announced is not None:
            return self.announced.get(po_line_no, 0)
        line = self.po_lines[po_line_no]
        return outstanding(line.qty, line.received)

    def against(self, po_line_no: int | None) -> str:
        """The document a discrepancy is about, as people say it."""
        if self.po is None:
            return ""
        text = f"PO {self.po.id}" + (f" line {po_line_no}" if po_line_no is not None else "")
        return f"ASN {self.asn_id} ({text})" if self.asn_id else text


@dataclass(slots=True)
class Group:
    """The receipt lines of one PO line (or of one SKU not on it): judged together."""

    po_line_no: int | None
    sku_id: int
    sku: str
    first: int | None  # index of its first receipt line; None: announced, nothing came
    received: int = 0
    damaged: int = 0
    lines: list[int] = field(default_factory=list)

    def expectation(self, doc: Document, quarantine: str) -> Expectation:
        """What arrived against what was expected, for the discrepancy rules."""
        return Expectation(
            self.sku,
            doc.against(self.po_line_no),
            doc.expected(self.po_line_no),
            self.received,
            self.damaged,
            quarantine,
        )


def document(conn: Connection, cmd: Receive, *, scope: Scope = EVERYWHERE) -> Document:
    """The PO (locked) and ASN the receipt is against, or the place of a blind receipt.

    A PO or ASN outside ``scope`` is not found; a blind receipt at a location
    outside it is refused by name.
    """
    po_id, announced = cmd.po_id, None
    if cmd.asn_id is not None:
        asn = conn.execute(select(asns).where(asns.c.id == cmd.asn_id, *asn_seen(scope))).first()
        if asn is None:
            raise UnknownAsn(f"no ASN {cmd.asn_id!r}", field="asn_id")
        if po_id is not None and po_id != asn.po_id:
            raise InvalidInput(f"ASN {asn.id} is for PO {asn.po_id}, not {po_id}", field="po_id")
        counted: dict[int, int] = defaultdict(int)
        for r in conn.execute(select(asn_lines).where(asn_lines.c.asn_id == asn.id)):
            counted[int(r.po_line_no)] += int(r.qty)
        po_id, announced = asn.po_id, dict(counted)
    if po_id is None:
        require_location(scope, cmd.location, field="location")
        place = receiving_location(lookup.location_by_code(conn, cmd.location or ""))
        return Document(place, None, None, {}, None)
    po = lock_po(conn, po_id, scope=scope)
    found = conn.execute(
        select(
            locations.c.id, locations.c.code, locations.c.kind, locations.c.allow_negative
        ).where(locations.c.id == po.location_id)
    ).one()
    place = lookup.LocationRef(int(found.id), found.code, found.kind, bool(found.allow_negative))
    if cmd.location is not None and cmd.location != place.code:
        raise InvalidInput(f"PO {po.id} is received at {place.code}", field="location")
    po_lines = {
        int(r.line_no): PoLine(int(r.sku_id), r.code, int(r.qty), int(r.received_qty))
        for r in conn.execute(
            select(incoming_supply, skus.c.code)
            .join(skus, skus.c.id == incoming_supply.c.sku_id)
            .where(incoming_supply.c.document_id == po.id)
        )
    }
    return Document(place, po, cmd.asn_id, po_lines, announced)


def groups(conn: Connection, cmd: Receive, doc: Document) -> list[Group]:
    """The receipt lines gathered per PO line, then the announced lines nothing came for."""
    found = line_skus(conn, [ln.sku for ln in cmd.lines])
    by_key: dict[tuple[int | None, int], Group] = {}
    for i, (line, sku) in enumerate(zip(cmd.lines, found, strict=True)):
        po_line_no = _po_line_for(doc, line, sku, index=i)
        group = by_key.setdefault((po_line_no, sku.id), Group(po_line_no, sku.id, sku.code, i))
        group.received += line.received_qty
        group.damaged += line.damaged_qty
        group.lines.append(i)
    seen = {n for n, _ in by_key}
    for n in sorted(doc.announced or {}):
        if n not in seen:
            ordered = doc.po_lines[n]
            by_key[(n, ordered.sku_id)] = Group(n, ordered.sku_id, ordered.sku, None)
    return list(by_key.values())


def _po_line_for(
    doc: Document, line: ReceiptLineIn, sku: lookup.SkuRef, *, index: int
) -> int | None:
    """The PO line a receipt line is for: the one named, else the PO's only line of the SKU."""
    if doc.po is None:
        return None
    at = f"lines[{index}].po_line_no"
    if line.po_line_no is not None:
        named = doc.po_lines.get(line.po_line_no)
        if named is None:
            raise InvalidInput(f"PO {doc.po.id} has no line {line.po_line_no}", field=at)
        if named.sku_id != sku.id:
            raise InvalidInput(
                f"PO line {line.po_line_no} is for SKU {named.sku}, not {sku.code}", field=at
            )
        return line.po_line_no
    candidates = [n for n, pl in sorted(doc.po_lines.items()) if pl.sku_id == sku.id]
    if doc.announced is not None and len(candidates) > 1:
        # Against an ASN, the lines it announced are the ones arriving.
        candidates = [n for n in candidates if n in doc.announced] or candidates
    if len(candidates) > 1:
        numbers = ", ".join(str(n) for n in candidates)
        raise InvalidInput(
            f"SKU {sku.code} is on PO lines {numbers}: say which with po_line_no", field=at
        )
    return candidates[0] if candidates else None


def po_status_after(doc: Document, found: list[Group]) -> str | None:
    """The PO's status once this receipt is in; ``IllegalPOTransition`` if it takes none."""
    if doc.po is None:
        return None
    arriving: dict[int, int] = defaultdict(int)
    for g in found:
        if g.po_line_no is not None:
            arriving[g.po_line_no] += g.received
    after = [(pl.qty, pl.received + arriving[n]) for n, pl in doc.po_lines.items()]
    return next_po_status(doc.po.status, receipt_event(after)).value
