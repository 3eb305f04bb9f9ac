"""Printed documents read back the way the floor reads them: the text through a PDF
reader, the barcodes through a barcode decoder looking at the rendered page.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader

from stockflow.errors import InvalidInput
from stockflow.floor.documents.model import LabelDoc, PickLineDoc, PickListDoc
from stockflow.floor.documents.render import LABEL_SIZE, label_pdf, packing_slip_pdf, pick_list_pdf
from stockflow.floor.documents.samples import sample_label, sample_packing_slip, sample_pick_list

SCALE = 3  # 216 dpi: close to a 203 dpi label printer, sharp enough for any bar on the page


def page_texts(pdf: bytes) -> list[str]:
    """The extracted text of each page."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def barcodes(pdf: bytes, page: int = 0) -> list[zxingcpp.Barcode]:
    """Every barcode a decoder finds on the rendered page, top to bottom."""
    image = pypdfium2.PdfDocument(pdf)[page].render(scale=SCALE).to_pil()
    found = zxingcpp.read_barcodes(image)
    return sorted(found, key=lambda code: code.position.top_left.y)


def long_wave(count: int) -> PickListDoc:
    """A wave of ``count`` lines, handed over shuffled; bins and SKUs follow the sequence."""
    lines = [
        PickLineDoc(
            sequence=seq,
            bin=f"B-{seq:03d}",
            sku=f"SKU-{seq:04d}",
            sku_name=f"Item number {seq}",
            lot=f"LOT{seq}" if seq % 5 == 0 else None,
            qty=seq % 9 + 1,
            order_id=f"SO-{seq // 3}",
            tote=f"T{seq % 4}",
        )
        for seq in range(1, count + 1)
    ]
    shuffled = lines[1::2] + lines[::2]
    return PickListDoc("W-77", "AMS-1", datetime(2025, 3, 14, 8, 30, tzinfo=UTC), tuple(shuffled))


# --- pick list -----------------------------------------------------------------------------


def test_pick_list_reads_back_wave_location_and_every_line() -> None:
    doc = sample_pick_list()
    (text,) = page_texts(pick_list_pdf(doc))
    assert "W-2025-0142" in text
    assert "AMS-1" in text
    assert "2025-03-14 08:30" in text
    assert "Page 1 of 1" in text
    for line in doc.lines:
        for value in (line.bin, line.sku, line.order_id, line.tote):
            assert value in text
        assert re.search(rf"\b{line.qty}\b", text)
    assert "L2025-031" in text
    assert f"{sum(line.qty for line in doc.lines)} units" in text


def test_pick_list_barcodes_scan_as_the_skus_in_walking_order() -> None:
    doc = sample_pick_list()
    found = barcodes(pick_list_pdf(doc))
    assert [code.text for code in found] == [line.sku for line in doc.lines]
    assert {code.format for code in found} == {zxingcpp.BarcodeFormat.Code128}


def test_a_long_pick_list_spans_pages_in_walking_order_with_the_header_on_each() -> None:
    doc = long_wave(60)
    pdf = pick_list_pdf(doc)
    texts = page_texts(pdf)
    assert len(texts) >= 3
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {len(texts)}" in text
        assert "W-77" in text
        assert re.search(r"#\s*Bin\s*SKU\s*Lot\s*Qty\s*Order\s*Tote", text)  # header repeated
    bins = [int(found) for text in texts for found in re.findall(r"B-(\d{3})", text)]
    assert bins == list(range(1, 61))
    # The barcodes on a later page follow on from the ones before it.
    second = [code.text for code in barcodes(pdf, page=1)]
    first_on_second = int(re.findall(r"B-(\d{3})", texts[1])[0])
    assert second == [
        f"SKU-{seq:04d}" for seq in range(first_on_second, first_on_second + len(second))
    ]
    assert len(second) >= 10


def test_a_sku_code_128_cannot_carry_still_prints_as_text() -> None:
    line = replace(sample_pick_list(1).lines[0], sku="KAFFEE-GRÜN")
    doc = replace(sample_pick_list(1), lines=(line,))
    pdf = pick_list_pdf(doc)
    assert "KAFFEE-GRÜN" in page_texts(pdf)[0]
    assert barcodes(pdf) == []


def test_the_same_pick_list_renders_to_the_same_bytes() -> None:
    assert pick_list_pdf(sample_pick_list()) == pick_list_pdf(sample_pick_list())


# --- packing slip --------------------------------------------------------------------------


def test_packing_slip_reads_back_ids_addresses_and_ordered_against_shipped() -> None:
    doc = sample_packing_slip()
    (text,) = page_texts(packing_slip_pdf(doc))
    for value in ("SO-10200", "SH-000321", "Stockflow Demo Warehouse", "Havenstraat 12"):
        assert value in text
    assert "Keizersgracht 455, 3rd floor" in text
    assert "Jane Doe (customer 4411)" in text
    assert "2025-03-14 10:05" in text
    for line in doc.lines:
        shortfall = line.ordered - line.shipped
        assert re.search(
            rf"{line.sku}\s*{re.escape(line.name)}\s*{line.ordered}\s*{line.shipped}\s*{shortfall}",
            text,
        )
    assert re.search(r"Total\s*9\s*7\s*2", text)


def test_packing_slip_barcode_scans_as_the_order_id() -> None:
    found = barcodes(packing_slip_pdf(sample_packing_slip()))
    assert [(code.text, code.format) for code in found] == [
        ("SO-10200", zxingcpp.BarcodeFormat.Code128)
    ]


def test_a_packing_slip_without_address_or_customer_still_prints() -> None:
    doc = replace(sample_packing_slip(), ship_to=None, customer=None, lines=())
    (text,) = page_texts(packing_slip_pdf(doc))
    assert "SO-10200" in text
    assert re.search(r"Total\s*0\s*0\s*0", text)


# --- label ---------------------------------------------------------------------------------


def test_label_is_one_4x6_inch_page_with_the_facts_as_text() -> None:
    doc = sample_label()
    pdf = label_pdf(doc)
    reader = PdfReader(io.BytesIO(pdf))
    (page,) = reader.pages
    assert (float(page.mediabox.width), float(page.mediabox.height)) == LABEL_SIZE == (288, 432)
    text = page.extract_text()
    for value in ("SF00000003210", "FLAT", "EXPRESS", "SO-10200", "SH-000321"):
        assert value in text
    assert "Keizersgracht 455, 3rd floor" in text
    assert "Package 1 of 2" in text
    assert "2.350 kg" in text


def test_label_barcode_scans_as_the_tracking_number_and_is_big() -> None:
    doc = sample_label()
    (code,) = barcodes(label_pdf(doc))
    assert code.text == doc.tracking_no
    assert code.format == zxingcpp.BarcodeFormat.Code128
    bars_width = code.position.top_right.x - code.position.top_left.x
    assert bars_width > 0.7 * LABEL_SIZE[0] * SCALE


def test_a_long_hand_typed_tracking_number_still_scans() -> None:
    doc = replace(sample_label(), tracking_no="1Z999AA10123456784", carrier="United Parcel Service")
    (code,) = barcodes(label_pdf(doc))
    assert code.text == "1Z999AA10123456784"


def test_a_long_address_is_cut_to_fit_not_spilled_over_the_barcode() -> None:
    long_address = "\n".join(f"Address line {n} with quite a lot of words in it" for n in range(12))
    doc: LabelDoc = replace(sample_label(), ship_to=long_address)
    pdf = label_pdf(doc)
    assert "Address line 0" in page_texts(pdf)[0]
    assert "Address line 11" not in page_texts(pdf)[0]
    assert [code.text for code in barcodes(pdf)] == [doc.tracking_no]


@pytest.mark.parametrize("tracking_no", ["", "SFÄ123", "SF\n123"])
def test_a_tracking_number_code_128_cannot_carry_is_refused(tracking_no: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        label_pdf(replace(sample_label(), tracking_no=tracking_no))
    assert caught.value.field == "tracking_no"
