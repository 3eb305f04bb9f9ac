"""Sample documents, and a dev tool that renders each to a PNG under docs/samples.

Run as ``python -m stockflow.floor.documents.samples [OUT_DIR]``; it needs pypdfium2,
which only the dev extra installs.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from stockflow.floor.documents.model import (
    Address,
    LabelDoc,
    PackingSlipDoc,
    PickLineDoc,
    PickListDoc,
    SlipLineDoc,
)
from stockflow.floor.documents.render import label_pdf, packing_slip_pdf, pick_list_pdf

WAREHOUSE = Address("Stockflow Demo Warehouse", ("Havenstraat 12", "1013 AB Amsterdam", "NL"))
CUSTOMER_ADDRESS = "Jane Doe\nKeizersgracht 455, 3rd floor\n1017 DK Amsterdam\nNetherlands"
_ITEMS = (
    ("SKU-1001", "Espresso beans 1 kg", None),
    ("SKU-2040", "Oat milk 1 l, carton of 6", "L2025-031"),
    ("SKU-3311", "Paper cups 8 oz, sleeve of 50", None),
    ("SKU-4720", "Ceramic mug, white, 350 ml", None),
    ("SKU-5009", "Cold brew concentrate 500 ml", "CB-7781"),
    ("SKU-6123", "Cleaning tablets for espresso machines (box of 100)", "CT-0099"),
)


def sample_pick_list(lines: int = 6) -> PickListDoc:
    """A wave of ``lines`` picks through aisles A to D, in walking order."""
    picks = []
    for index in range(lines):
        sku, name, lot = _ITEMS[index % len(_ITEMS)]
        picks.append(
            PickLineDoc(
                sequence=index + 1,
                bin=f"{'ABCD'[index // 10 % 4]}-{index % 10 + 1:02d}-{index % 3 + 1}",
                sku=sku,
                sku_name=name,
                lot=lot,
                qty=(index * 7) % 12 + 1,
                order_id=f"SO-{10200 + index // 2}",
                tote=f"T{index // 2 + 1:03d}",
            )
        )
    return PickListDoc(
        wave_id="W-2025-0142",
        location="AMS-1",
        created_at=datetime(2025, 3, 14, 8, 30, tzinfo=UTC),
        lines=tuple(picks),
    )


def sample_packing_slip() -> PackingSlipDoc:
    """A partly shipped order: one line follows later."""
    return PackingSlipDoc(
        order_id="SO-10200",
        shipment_id="SH-000321",
        ship_from=WAREHOUSE,
        ship_to=CUSTOMER_ADDRESS,
        customer="Jane Doe (customer 4411)",
        lines=(
            SlipLineDoc("SKU-1001", "Espresso beans 1 kg", 2, 2),
            SlipLineDoc("SKU-2040", "Oat milk 1 l, carton of 6", 3, 1),
            SlipLineDoc("SKU-4720", "Ceramic mug, white, 350 ml", 4, 4),
        ),
        packed_at=datetime(2025, 3, 14, 10, 5, tzinfo=UTC),
    )


def sample_label() -> LabelDoc:
    """Package 1 of 2 of the sample shipment."""
    return LabelDoc(
        shipment_id="SH-000321",
        tracking_no="SF00000003210",
        carrier="flat",
        service="express",
        ship_from=WAREHOUSE,
        ship_to=CUSTOMER_ADDRESS,
        weight_g=2350,
        package_no=1,
        package_count=2,
        order_id="SO-10200",
    )


def render_samples(out_dir: Path, *, dpi: int = 110) -> list[Path]:
    """Render the first page of each sample document to a PNG in ``out_dir``."""
    import pypdfium2  # dev-only: the service itself never rasterises

    out_dir.mkdir(parents=True, exist_ok=True)
    documents = {
        "pick-list.png": pick_list_pdf(sample_pick_list()),
        "packing-slip.png": packing_slip_pdf(sample_packing_slip()),
        "label.png": label_pdf(sample_label()),
    }
    written = []
    for name, pdf in documents.items():
        page = pypdfium2.PdfDocument(pdf)[0]
        # The label is small, so it gets twice the resolution to stay legible.
        scale = dpi / 72 * (2 if name == "label.png" else 1)
        path = out_dir / name
        page.render(scale=scale).to_pil().save(path, optimize=True)
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    """Write the sample PNGs to ``argv[0]`` (default ``docs/samples``)."""
    out_dir = Path(argv[0]) if argv else Path("docs/samples")
    for path in render_samples(out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
