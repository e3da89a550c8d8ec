"""Trading cards from generated art: words from a small text model, a layout, a composer, a print sheet.

Pillow, numpy and the standard library only; nothing here imports the web app, the worker or the models.
"""

from cards.batch import MadeCard, make_cards
from cards.card import Attack, CardText, Provenance
from cards.compose import compose_card, fit_art
from cards.layout import Layout, LayoutError, default_layout, load_layout
from cards.metadata import CardRecord, read_records, records_from_rows
from cards.sheet import sheet_pdf
from cards.types import TYPE_NAMES, card_type
from cards.words import TextModel

__all__ = [
    "Attack", "CardRecord", "CardText", "Layout", "LayoutError", "MadeCard", "Provenance", "TYPE_NAMES",
    "TextModel", "card_type", "compose_card", "default_layout", "fit_art", "load_layout", "make_cards",
    "read_records", "records_from_rows", "sheet_pdf",
]  # fmt: skip
