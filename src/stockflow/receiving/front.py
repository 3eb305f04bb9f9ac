"""The Python front door for purchasing and receiving: suppliers, POs, ASNs, receipts, putaway.

Each method is one command in one transaction. When a command changes what
is coming or what is on hand (a PO placed or ended, a receipt, a release from
quarantine), waiting orders get their chance and their promise dates are
worked out again, in transactions of their own right after it commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import TypeVar

from stockflow.adapters.database import Database
from stockflow.adapters.paging import DEFAULT_PAGE, Page
from stockflow.receiving import purchasing, putaway, quarantine
from stockflow.receiving import queries as q
from stockflow.receiving import receipts as receiving
from stockflow.receiving.rules.purchasing import (
    NewAsn,
    NewPurchaseOrder,
    NewSupplier,
    POEvent,
    Receive,
)
from stockflow.receiving.rules.putaway import ConfirmPutaway, PutawaySuggestion, QuarantineDecision
from stockflow.stock.ledger import MoveRecord
from stockflow.stock.rules.access import EVERYWHERE, Scope
from stockflow.stock.scoping import require_supplier


class Receiving:
    """Purchasing, receiving and putaway on one database."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def _today(self) -> date:
        return self.clock().date()

    # suppliers -----------------------------------------------------------------
    def add_supplier(self, supplier: NewSupplier, *, scope: Scope = EVERYWHERE) -> q.SupplierView:
        """Add a supplier; adding the same one again changes nothing."""
        checked = supplier.checked()
        require_supplier(scope, checked.code, field="code")
        # Two requests adding one supplier race on its code; the loser's retry finds it.
        added = self.db.run(
            lambda conn: purchasing.add_supplier(conn, checked, now=self.clock()), idempotent=True
        )
        return replace(self.supplier(checked.code), replayed=not added)

    def supplier(self, code: str, *, scope: Scope = EVERYWHERE) -> q.SupplierView:
        """One supplier."""
        with self.db.read() as conn:
            return q.supplier_view(conn, code, scope=scope)

    def suppliers(
        self, *, after: str | None = None, limit: int = DEFAULT_PAGE, scope: Scope = EVERYWHERE
    ) -> Page[q.SupplierView]:
        """A page of suppliers, in code order, after cursor ``after``."""
        with self.db.read() as conn:
            return q.supplier_page(conn, after=after, limit=limit, scope=scope)

    # purchase orders -------------------------------------------------------------
    def place_order(
        self, cmd: NewPurchaseOrder, *, scope: Scope = EVERYWHERE
    ) -> q.PurchaseOrderView:
        """Place a purchase order; its lines count as supply from now on."""
        return self.place_orders([cmd], scope=scope)[0]

    def place_orders(
        self, cmds: Sequence[NewPurchaseOrder], *, rows: Sequence[Sequence[int]] | None = None,
        scope: Scope = EVERYWHERE,
    ) -> list[q.PurchaseOrderView]:  # fmt: skip
        """Place purchase orders, every one or none (a known idempotency key replays its PO).

        ``rows``: the file rows each order's lines came from, for errors that name them.
        """
        checked = []
        for n, cmd in enumerate(cmds):
            with purchasing.about_lines(rows[n] if rows else None):
                checked.append(cmd.checked(today=self._today()))
        placed = self.db.run(
            lambda conn: purchasing.place_orders(
                conn, checked, today=self._today(), now=self.clock(), rows=rows, scope=scope
            ),
            idempotent=any(c.idempotency_key for c in checked),
        )
        with self.db.read() as conn:
            found = q.purchase_orders_by_id(conn, [p.id for p in placed])
        return [_replayed(found[p.id], p.replayed) for p in placed]

    def purchase_order(self, po_id: str, *, scope: Scope = EVERYWHERE) -> q.PurchaseOrderView:
        """One purchase order with its lines."""
        with self.db.read() as conn:
            return q.purchase_order_view(conn, po_id, scope=scope)

    def purchase_orders(
        self,
        *,
        status: str | None = None,
        supplier: str | None = None,
        after: str | None = None,
        limit: int = DEFAULT_PAGE,
        scope: Scope = EVERYWHERE,
    ) -> Page[q.PurchaseOrderView]:
        """A page of purchase orders, newest first, optionally of one status or supplier."""
        with self.db.read() as conn:
            return q.purchase_order_page(
                conn, status=status, supplier=supplier, after=after, limit=limit, scope=scope
            )

    def close_order(self, po_id: str, *, scope: Scope = EVERYWHERE) -> q.PurchaseOrderView:
        """Close a purchase order: what it has not delivered is no longer expected."""
        return self._end(po_id, POEvent.CLOSE, scope)

    def cancel_order(self, po_id: str, *, scope: Scope = EVERYWHERE) -> q.PurchaseOrderView:
        """Cancel a purchase order that has not been fully received."""
        return self._end(po_id, POEvent.CANCEL, scope)

    def _end(self, po_id: str, event: POEvent, scope: Scope) -> q.PurchaseOrderView:
        self.db.run(
            lambda conn: purchasing.end_order(conn, po_id, event, now=self.clock(), scope=scope)
        )
        return self.purchase_order(po_id, scope=scope)

    # ASNs -------------------------------------------------------------------------
    def add_asn(self, cmd: NewAsn, *, scope: Scope = EVERYWHERE) -> q.AsnView:
        """Record an advance shipping notice against an open purchase order."""
        checked = cmd.checked()
        asn_id, replayed = self.db.run(
            lambda conn: purchasing.add_asn(conn, checked, now=self.clock(), scope=scope),
            idempotent=checked.idempotency_key is not None,
        )
        with self.db.read() as conn:
            return _replayed(q.asn_view(conn, asn_id, scope=scope), replayed)

    def asn(self, asn_id: str, *, scope: Scope = EVERYWHERE) -> q.AsnView:
        """One ASN with its lines."""
        with self.db.read() as conn:
            return q.asn_view(conn, asn_id, scope=scope)

    # receipts -----------------------------------------------------------------------
    def receive(
        self, cmd: Receive, *, rows: Sequence[int] | None = None, scope: Scope = EVERYWHERE
    ) -> q.ReceiptView:
        """Book a delivery in, all or nothing; then waiting orders get the good units.

        ``rows``: the file rows the lines came from, for errors that name them.
        """
        with purchasing.about_lines(rows):
            checked = cmd.checked()
            done = self.db.run(
                lambda conn: receiving.receive(conn, checked, now=self.clock(), scope=scope),
                idempotent=checked.idempotency_key is not None,
            )
        with self.db.read() as conn:
            return _replayed(q.receipt_view(conn, done.id, scope=scope), done.replayed)

    def receipt(self, receipt_id: str, *, scope: Scope = EVERYWHERE) -> q.ReceiptView:
        """One receipt with its lines and the discrepancies it raised."""
        with self.db.read() as conn:
            return q.receipt_view(conn, receipt_id, scope=scope)

    # putaway ------------------------------------------------------------------------
    def set_home_bin(
        self, *, location: str, sku: str, bin_code: str, scope: Scope = EVERYWHERE
    ) -> None:
        """Make a storage bin the SKU's home at a location: putaway suggests it first."""
        self.db.run(
            lambda conn: putaway.set_home_bin(
                conn, location=location, sku=sku, bin_code=bin_code, scope=scope
            )
        )

    def suggest_putaway(
        self, *, location: str, sku: str, qty: int, lot: str | None = None,
        scope: Scope = EVERYWHERE,
    ) -> PutawaySuggestion:  # fmt: skip
        """Where ``qty`` units of a SKU should be put away, and why there."""
        with self.db.read() as conn:
            return putaway.suggest_putaway(
                conn, location=location, sku=sku, lot=lot, qty=qty, scope=scope
            )

    def confirm_putaway(self, cmd: ConfirmPutaway, *, scope: Scope = EVERYWHERE) -> q.PutawayView:
        """Move units into the scanned storage bin, their allocations with them."""
        checked = cmd.checked()
        reference, replayed = self.db.run(
            lambda conn: putaway.confirm_putaway(conn, checked, now=self.clock(), scope=scope)
        )
        with self.db.read() as conn:
            return _replayed(q.putaway_view(conn, reference), replayed)

    # quarantine ---------------------------------------------------------------------
    def release_from_quarantine(
        self, cmd: QuarantineDecision, *, scope: Scope = EVERYWHERE
    ) -> MoveRecord:
        """Release quarantined units to a storage bin; waiting orders may take them at once."""
        checked = cmd.checked(release=True)
        return self.db.run(
            lambda conn: quarantine.decide(
                conn, checked, release=True, now=self.clock(), scope=scope
            ),
            idempotent=checked.idempotency_key is not None,
        )

    def scrap_from_quarantine(
        self, cmd: QuarantineDecision, *, scope: Scope = EVERYWHERE
    ) -> MoveRecord:
        """Write quarantined units off."""
        checked = cmd.checked(release=False)
        return self.db.run(
            lambda conn: quarantine.decide(
                conn, checked, release=False, now=self.clock(), scope=scope
            ),
            idempotent=checked.idempotency_key is not None,
        )


V = TypeVar("V", q.PurchaseOrderView, q.AsnView, q.ReceiptView, q.PutawayView)


def _replayed(view: V, replayed: bool) -> V:
    """The view, marked as the answer to a retried request when it is one."""
    return replace(view, replayed=True) if replayed else view
