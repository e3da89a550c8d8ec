"""Several cards at once from a batch of art: card i has art seed seed + i and text seed text_seed + i, so
any card can be made again alone, and the text or the art can be re-rolled without the other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from cards.card import CardText, Provenance
from cards.compose import compose_card
from cards.layout import Layout
from cards.words import TextModel


@dataclass(frozen=True)
class MadeCard:
    text: CardText
    image: Image.Image
    seed: int
    text_seed: int


def make_cards(
    arts: Sequence[Image.Image],
    model: TextModel,
    *,
    seed: int,
    text_seed: int,
    run: str,
    checkpoint: str,
    type_name: str | None = None,
    layout: Layout | None = None,
) -> list[MadeCard]:
    made = []
    for index, art in enumerate(arts):
        text = model.card(text_seed + index, type_name=type_name)
        provenance = Provenance(
            run=run, checkpoint=checkpoint, seed=seed + index, text_seed=text_seed + index
        )
        image = compose_card(art, text, provenance, layout)
        made.append(MadeCard(text=text, image=image, seed=seed + index, text_seed=text_seed + index))
    return made
