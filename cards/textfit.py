"""Text that fits its box: a line shrinks from the box's size down to its min_size, then is squeezed
sideways; a paragraph wraps and shrinks, then is scaled down whole. Nothing is ever cut off."""

from __future__ import annotations

from PIL import Image, ImageDraw

from cards.fonts import font
from cards.layout import Box

LINE_SPACING = 1.18


def draw_line(card: Image.Image, box: Box, text: str, colour: tuple[int, int, int]) -> int:
    """Draw one line of text in the box; returns the font size used."""
    for size in range(box.size, box.min_size - 1, -1):
        block = render_lines([text], box.font, size, colour)
        if block.width <= box.width and block.height <= box.height:
            paste_block(card, box, block)
            return size
    paste_block(card, box, fit_block(render_lines([text], box.font, box.min_size, colour), box))
    return box.min_size


def draw_paragraph(card: Image.Image, box: Box, text: str, colour: tuple[int, int, int]) -> int:
    """Draw text wrapped to the box's width, as large as fits; returns the font size used."""
    for size in range(box.size, box.min_size - 1, -1):
        lines = wrap(text, box.font, size, box.width)
        block = render_lines(lines, box.font, size, colour)
        if block.width <= box.width and block.height <= box.height:
            paste_block(card, box, block)
            return size
    lines = wrap(text, box.font, box.min_size, box.width)
    paste_block(card, box, fit_block(render_lines(lines, box.font, box.min_size, colour), box))
    return box.min_size


def wrap(text: str, style: str, size: int, width: int) -> list[str]:
    """Greedy word wrap; a single word wider than the box keeps a line of its own (fit_block shrinks it)."""
    face = font(style, size)
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and face.getlength(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines or [""]


def render_lines(lines: list[str], style: str, size: int, colour: tuple[int, int, int]) -> Image.Image:
    """The lines as a transparent image cropped to the ink's box (ascenders and descenders included)."""
    face = font(style, size)
    step = round(size * LINE_SPACING)
    ascent, descent = face.getmetrics()
    width = max(1, max(round(face.getlength(line)) for line in lines) + size)
    height = step * (len(lines) - 1) + ascent + descent + size
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for index, line in enumerate(lines):
        draw.text((size // 2, size // 2 + index * step), line, font=face, fill=(*colour, 255))
    ink = layer.getbbox()
    if ink is None:
        return Image.new("RGBA", (1, 1), (0, 0, 0, 0))
    # Keep the font's full line height so short names sit on the same baseline as tall ones.
    top = min(ink[1], size // 2)
    bottom = max(ink[3], size // 2 + step * (len(lines) - 1) + ascent + descent)
    return layer.crop((ink[0], top, ink[2], bottom))


def fit_block(block: Image.Image, box: Box) -> Image.Image:
    """Shrink a block that is still too big: sideways only when just too wide, else uniformly."""
    width, height = block.size
    if height <= box.height:
        return block.resize((box.width, height), Image.Resampling.LANCZOS)
    scale = min(box.width / width, box.height / height)
    return block.resize((max(1, int(width * scale)), max(1, int(height * scale))), Image.Resampling.LANCZOS)


def paste_block(card: Image.Image, box: Box, block: Image.Image) -> None:
    """Place the block in the box: vertically centred, horizontally as the box's align says."""
    if box.align == "center":
        left = box.left + (box.width - block.width) // 2
    elif box.align == "right":
        left = box.right - block.width
    else:
        left = box.left
    top = box.top + (box.height - block.height) // 2
    card.paste(block, (left, top), block)
