"""Reading a PDF's page sizes without a PDF library: the /MediaBox of each page, in points."""

from __future__ import annotations

import re


def media_boxes(pdf: bytes) -> list[list[float]]:
    return [[float(v) for v in m.split()] for m in re.findall(rb"/MediaBox\s*\[\s*([\d.\s]+)\]", pdf)]
