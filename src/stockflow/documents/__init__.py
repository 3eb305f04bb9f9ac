"""Printable warehouse documents: pick lists, packing slips and shipping labels as PDF."""
