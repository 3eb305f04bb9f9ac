"""Render pick lists, packing slips and shipping labels to PDF bytes.

Text is drawn as text (a scanner app or a search can read it back), barcodes are
Code 128. Fonts are the PDF standard ones, so nothing is embedded or looked up
on the machine.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from stockflow.errors import InvalidInput
from stockflow.floor.documents.model import (
    Address,
    LabelDoc,
    PackingSlipDoc,
    PickLineDoc,
    PickListDoc,
)

LABEL_SIZE = (4 * inch, 6 * inch)
_MARGIN = 36.0
_FONT, _BOLD = "Helvetica", "Helvetica-Bold"
_BODY = ParagraphStyle("body", fontName=_FONT, fontSize=9, leading=11, wordWrap="CJK")
_STRONG = ParagraphStyle("strong", parent=_BODY, fontName=_BOLD, fontSize=10, leading=12)
_QTY = ParagraphStyle("qty", parent=_BODY, fontName=_BOLD, fontSize=14, leading=16, alignment=2)
_HEAD = ParagraphStyle("head", parent=_BODY, fontName=_BOLD, textColor=colors.white)
_NUMBER = ParagraphStyle("number", parent=_BODY, alignment=2)
_TITLE = ParagraphStyle("title", parent=_BODY, fontName=_BOLD, fontSize=20, leading=24)
_Command = tuple[str, tuple[int, int], tuple[int, int], *tuple[object, ...]]
_GRID: list[_Command] = [
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#333333")),
    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ("LINEBELOW", (0, 0), (-1, -1), 0.5, colors.grey),
    ("TOPPADDING", (0, 0), (-1, -1), 4),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
]

_TOP = TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")])

PageDecor = Callable[[Canvas, int, int], None]
"""Draws a page's header and footer, given the page number and the page count."""


def encodable(value: str) -> bool:
    """Whether Code 128 can carry ``value`` exactly (printable ASCII, not empty)."""
    return bool(value) and all(" " <= char <= "~" for char in value)


def code128(value: str, *, max_width: float, bar_height: float, max_bar: float) -> Code128:
    """A Code 128 symbol of ``value`` no wider than ``max_width``, quiet zones included.

    The narrowest bar is ``max_bar`` points when that fits, thinner when it must.
    """
    if not encodable(value):
        # Code 128 silently drops what it cannot encode; a label must not scan as something else.
        raise InvalidInput(f"cannot be printed as a barcode: {value!r}", field="barcode")

    def sized(bar: float) -> Code128:
        quiet = 10 * bar  # the narrowest quiet zone the Code 128 standard allows
        return Code128(value, barWidth=bar, barHeight=bar_height, lquiet=quiet, rquiet=quiet)

    widest = sized(max_bar)
    width = float(widest.width)
    return widest if width <= max_width else sized(max_bar * max_width / width)


def _when(moment: datetime) -> str:
    zone = f" {moment:%Z}" if moment.tzinfo is not None else ""
    return f"{moment:%Y-%m-%d %H:%M}{zone}"


def _para(text: str, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _number(value: int) -> Paragraph:
    return Paragraph(str(value), _NUMBER)


def _build(
    story: Callable[[], list[Flowable]], decor: PageDecor, *, title: str, top: float
) -> bytes:
    """An A4 PDF of ``story`` with ``decor`` on every page.

    The story is laid out twice: the first pass only counts the pages, so that
    every header can say "page x of y".
    """
    pages = 0
    for _ in range(2):
        out = io.BytesIO()
        doc = SimpleDocTemplate(
            out,
            pagesize=A4,
            leftMargin=_MARGIN,
            rightMargin=_MARGIN,
            topMargin=top,
            bottomMargin=_MARGIN + 14,
            title=title,
            author="stockflow",
            invariant=True,  # same input, same bytes
        )
        total = pages

        def on_page(canvas: Canvas, template: SimpleDocTemplate, total: int = total) -> None:
            decor(canvas, canvas.getPageNumber(), total)

        doc.build(story(), onFirstPage=on_page, onLaterPages=on_page)
        pages = doc.page
    return out.getvalue()


def _footer(canvas: Canvas, text: str, page: int, total: int) -> None:
    width = A4[0]
    canvas.setFont(_FONT, 8)
    canvas.drawString(_MARGIN, _MARGIN, text)
    canvas.drawRightString(width - _MARGIN, _MARGIN, f"Page {page} of {total}")


_PICK_HEAD = ("#", "Bin", "SKU", "Lot", "Qty", "Order", "Tote", "Done")
_PICK_WIDTHS = (24, 62, 177, 62, 36, 72, 52, 38)


def _pick_row(line: PickLineDoc) -> list[object]:
    """One table row; the SKU cell stacks code, name and a barcode the picker can scan."""
    sku: list[Flowable] = [_para(line.sku, _STRONG), _para(line.sku_name)]
    if encodable(line.sku):
        barcode = code128(line.sku, max_width=_PICK_WIDTHS[2] - 12, bar_height=22, max_bar=1.0)
        sku += [Spacer(0, 3), barcode]
    return [
        _number(line.sequence),
        _para(line.bin, _STRONG),
        sku,
        _para(line.lot or "-"),
        _para(str(line.qty), _QTY),
        _para(line.order_id),
        _para(line.tote, _STRONG),
        "",  # ticked by hand
    ]


def pick_list_pdf(doc: PickListDoc) -> bytes:
    """A4 pick list of a wave, in walking order, with a barcode of each line's SKU."""
    lines = sorted(doc.lines, key=lambda line: line.sequence)
    summary = (
        f"Location {doc.location}   Created {_when(doc.created_at)}   "
        f"{len(lines)} lines, {sum(line.qty for line in lines)} units"
    )

    def story() -> list[Flowable]:
        head: list[object] = [_para(name, _HEAD) for name in _PICK_HEAD]
        rows: list[list[object]] = [head, *(_pick_row(line) for line in lines)]
        style = TableStyle([*_GRID, ("BOX", (7, 1), (7, -1), 0.5, colors.grey)])
        return [Table(rows, colWidths=_PICK_WIDTHS, repeatRows=1, style=style)]

    def decor(canvas: Canvas, page: int, total: int) -> None:
        width, height = A4
        canvas.setFont(_BOLD, 16)
        canvas.drawString(_MARGIN, height - 48, f"Pick list - wave {doc.wave_id}")
        canvas.setFont(_FONT, 10)
        canvas.drawString(_MARGIN, height - 66, summary)
        canvas.setFont(_BOLD, 10)
        canvas.drawRightString(width - _MARGIN, height - 48, f"Page {page} of {total}")
        _footer(canvas, f"Wave {doc.wave_id}", page, total)

    return _build(story, decor, title=f"Pick list {doc.wave_id}", top=84)


def _address_text(address: Address) -> str:
    return "\n".join((address.name, *address.lines))


def packing_slip_pdf(doc: PackingSlipDoc) -> bytes:
    """A4 packing slip: who and where, what was ordered against what is in the box."""
    usable = A4[0] - 2 * _MARGIN

    def story() -> list[Flowable]:
        barcode: Flowable | str = (
            code128(doc.order_id, max_width=200, bar_height=36, max_bar=1.2)
            if encodable(doc.order_id)
            else ""
        )
        facts = f"Order {doc.order_id}\nShipment {doc.shipment_id}\nPacked {_when(doc.packed_at)}"
        heading = Table(
            [[_para("Packing slip", _TITLE), barcode], [_para(facts, _STRONG), ""]],
            colWidths=(usable - 210, 210),
            style=TableStyle([*_TOP.getCommands(), ("ALIGN", (1, 0), (1, 0), "RIGHT")]),
        )
        parties = [
            [_para(h, _STRONG) for h in ("Ship from", "Ship to", "Customer")],
            [_para(t or "-") for t in (_address_text(doc.ship_from), doc.ship_to, doc.customer)],
        ]
        return [
            heading,
            Spacer(0, 12),
            Table(parties, colWidths=(usable / 3,) * 3, style=_TOP),
            Spacer(0, 16),
            _slip_lines(doc, usable),
        ]

    def decor(canvas: Canvas, page: int, total: int) -> None:
        _footer(canvas, f"Order {doc.order_id} - shipment {doc.shipment_id}", page, total)

    return _build(story, decor, title=f"Packing slip {doc.order_id}", top=_MARGIN)


def _slip_lines(doc: PackingSlipDoc, usable: float) -> Table:
    """The slip's table: each SKU ordered, shipped in this box and still to follow."""
    rows: list[list[object]] = [
        [_para(h, _HEAD) for h in ("SKU", "Item", "Ordered", "Shipped", "To follow")]
    ]
    counts = [
        (line.ordered, line.shipped, max(line.ordered - line.shipped, 0)) for line in doc.lines
    ]
    for line, numbers in zip(doc.lines, counts, strict=True):
        rows.append([_para(line.sku, _STRONG), _para(line.name), *map(_number, numbers)])
    totals = [sum(column) for column in zip(*counts, strict=True)] if counts else [0, 0, 0]
    rows.append(["", _para("Total", _STRONG), *map(_number, totals)])
    widths = (110, usable - 110 - 3 * 60, 60, 60, 60)
    return Table(rows, colWidths=widths, repeatRows=1, style=TableStyle(_GRID))


def label_pdf(doc: LabelDoc) -> bytes:
    """A 4x6 inch shipping label with a large Code 128 barcode of the tracking number."""
    if not encodable(doc.tracking_no):
        raise InvalidInput(
            f"cannot be printed as a barcode: {doc.tracking_no!r}", field="tracking_no"
        )
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=LABEL_SIZE, invariant=True)
    canvas.setTitle(f"Label {doc.tracking_no}")
    canvas.setAuthor("stockflow")
    width, height = LABEL_SIZE
    margin = 12.0
    _label_top(canvas, doc, width=width, height=height, margin=margin)
    barcode = code128(doc.tracking_no, max_width=width - 2 * margin, bar_height=86, max_bar=2.0)
    barcode.drawOn(canvas, (width - float(barcode.width)) / 2, 44)
    canvas.setFont(_BOLD, _fitting(doc.tracking_no, _BOLD, 16, width - 2 * margin))
    canvas.drawCentredString(width / 2, 24, doc.tracking_no)
    canvas.setFont(_FONT, 7)
    canvas.drawCentredString(width / 2, 140, "TRACKING NUMBER")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _label_top(
    canvas: Canvas, doc: LabelDoc, *, width: float, height: float, margin: float
) -> None:
    """Sender, carrier, recipient and package facts, top down to just above the barcode."""
    inner = width - 2 * margin
    # Long carrier and service names shrink rather than run into the sender's address.
    for name, font, size, drop in ((doc.carrier, _BOLD, 18, 30), (doc.service, _FONT, 9, 42)):
        canvas.setFont(font, _fitting(name.upper(), font, size, 100))
        canvas.drawRightString(width - margin, height - drop, name.upper())
    y = height - margin - 7
    canvas.setFont(_FONT, 7)
    canvas.drawString(margin, y, "FROM")
    for text in _wrapped(_address_text(doc.ship_from), _FONT, 7, inner - 110, max_lines=5):
        y -= 8.5
        canvas.drawString(margin, y, text)
    y = min(y, height - 50) - 10
    canvas.setLineWidth(1.5)
    canvas.line(margin, y, width - margin, y)
    canvas.setFont(_FONT, 7)
    canvas.drawString(margin, y - 11, "SHIP TO")
    y -= 13
    canvas.setFont(_BOLD, 13)
    for text in _wrapped(doc.ship_to, _BOLD, 13, inner, max_lines=8):
        y -= 15
        canvas.drawString(margin, y, text)
    facts_y = 170.0
    canvas.line(margin, facts_y + 26, width - margin, facts_y + 26)
    canvas.setFont(_BOLD, 11)
    canvas.drawString(margin, facts_y + 10, f"{Decimal(doc.weight_g).scaleb(-3)} kg")
    canvas.drawRightString(
        width - margin, facts_y + 10, f"Package {doc.package_no} of {doc.package_count}"
    )
    canvas.setFont(_FONT, 8)
    canvas.drawString(margin, facts_y - 2, f"Order {doc.order_id}")
    canvas.drawRightString(width - margin, facts_y - 2, f"Shipment {doc.shipment_id}")
    canvas.line(margin, facts_y - 10, width - margin, facts_y - 10)


def _fitting(text: str, font: str, size: float, width: float) -> float:
    """``size``, or the smaller font size at which ``text`` is ``width`` wide."""
    return min(size, size * width / max(stringWidth(text, font, size), 1))


def _wrapped(text: str, font: str, size: float, width: float, *, max_lines: int) -> list[str]:
    """``text`` broken to ``width``; past ``max_lines`` the last line ends in an ellipsis."""
    lines: list[str] = []
    for part in text.splitlines() or [""]:
        lines.extend(simpleSplit(part, font, size, width) or [""])
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1] + " ..."]
    return lines
