"""A character-level n-gram model: P(next char | previous n-1 chars), counted from training strings.

Shannon (1948), "A Mathematical Theory of Communication", section 3; the order trades copying (high n)
for gibberish (low n). Samples that repeat a training string verbatim are refused, so the model invents.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable

START, END = "\x02", "\x03"


class CharNgram:
    def __init__(self, texts: Iterable[str], *, order: int) -> None:
        if order < 1:
            raise ValueError("an n-gram model needs order >= 1")
        self.order = order
        self.training = {t for t in texts if t}
        self.known = {t.casefold() for t in self.training}
        self._next: dict[str, Counter[str]] = defaultdict(Counter)
        for text in self.training:
            padded = START * (order - 1) + text + END
            for index in range(order - 1, len(padded)):
                self._next[padded[index - order + 1 : index]][padded[index]] += 1
        self._choices = {
            context: (list(counts), list(counts.values())) for context, counts in self._next.items()
        }

    def __len__(self) -> int:
        return len(self.training)

    def sample(self, rng: random.Random, *, max_length: int) -> str | None:
        """One string, or None when it ran past max_length before its end."""
        context = START * (self.order - 1)
        out: list[str] = []
        while len(out) <= max_length:
            chars, weights = self._choices[context[len(context) - self.order + 1 :] if self.order > 1 else ""]
            char = rng.choices(chars, weights)[0]
            if char == END:
                return "".join(out)
            out.append(char)
            context += char
        return None

    def invent(self, rng: random.Random, *, min_length: int, max_length: int, tries: int = 200) -> str | None:
        """A string of min..max_length characters that is not a training string; None if none came."""
        if not self.training:
            return None
        for _ in range(tries):
            text = self.sample(rng, max_length=max_length)
            if text is None:
                continue
            text = " ".join(text.split())
            if min_length <= len(text) <= max_length and text.casefold() not in self.known:
                return text
        return None
