"""Turning a checkpoint into pictures for /generate: load a generator, draw images, encode PNG/ZIP/GIF.

torch is imported lazily so the web app starts without loading it; checkpoints load with weights_only=True.
"""

from __future__ import annotations

import base64
import io
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


def load_generator_file(path: Path, *, use_ema: bool) -> Any:
    """The generator of a checkpoint file, in eval mode on the CPU."""
    import torch

    from models.generate import load_generator

    state = torch.load(path, map_location="cpu", weights_only=True)
    generator = load_generator(state, use_ema=use_ema)
    generator.eval()
    return generator


def draw(generator: Any, *, n: int, seed: int, labels: list[int] | None = None) -> np.ndarray:
    """n images as uint8 n x H x W x 3, the same for the same generator, seed and labels (a conditional
    generator's class index per image)."""
    import torch

    from models.generate import generate

    with torch.inference_mode():
        images = generate(generator, n, seed, _classes(generator, labels, n))
    return to_uint8(images)


def draw_interpolation(
    generator: Any,
    *,
    seed_a: int,
    seed_b: int,
    steps: int,
    label: int | None = None,
    label_b: int | None = None,
) -> np.ndarray:
    """`steps` images walking the latent sphere from seed_a's noise to seed_b's (slerp); a conditional
    generator keeps class `label` (default: the first) along the way, or with `label_b` blends from
    `label` to `label_b` (at fixed noise when seed_a == seed_b)."""
    import torch

    from models.generate import render, slerp_latents

    with torch.inference_mode():
        if label_b is None:
            classes = _classes(generator, None if label is None else [label] * steps, steps, cycle=False)
        else:
            classes = class_blend(generator.n_classes, label or 0, label_b, steps)
        images = render(generator, slerp_latents(seed_a, seed_b, steps, generator.nz), classes)
    return to_uint8(images)


def class_blend(n_classes: int, label_a: int, label_b: int, steps: int) -> Any:
    """steps x n_classes class weights going linearly from all label_a to all label_b."""
    import torch

    t = torch.linspace(0, 1, steps)
    weights = torch.zeros(steps, n_classes)
    weights[:, label_a] += 1 - t
    weights[:, label_b] += t
    return weights


def _classes(generator: Any, labels: list[int] | None, n: int, *, cycle: bool = True) -> Any:
    """The class tensor for a conditional generator (labels, else its classes in turn, or the first when
    cycle is False); None for an unconditional one."""
    import torch

    n_classes = getattr(generator, "n_classes", 0)
    if not n_classes:
        return None
    if labels is None:
        labels = [i % n_classes if cycle else 0 for i in range(n)]
    return torch.tensor(labels, dtype=torch.int64)


def to_uint8(images: Any) -> np.ndarray:
    """n x 3 x H x W floats in [0, 1] (a torch tensor) -> n x H x W x 3 uint8."""
    import torch

    array = images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return array.permute(0, 2, 3, 1).cpu().numpy()


def grid_image(images: np.ndarray, *, columns: int | None = None, padding: int = 2) -> Image.Image:
    """Tile n x H x W x 3 images into one picture (near-square unless `columns` is given)."""
    n, height, width, _ = images.shape
    columns = columns or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / columns)
    canvas = np.zeros(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, 3), dtype=np.uint8
    )
    for index, image in enumerate(images):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        canvas[top : top + height, left : left + width] = image
    return Image.fromarray(canvas)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_base64_list(images: np.ndarray) -> list[str]:
    return [base64.b64encode(png_bytes(Image.fromarray(image))).decode("ascii") for image in images]


def zip_bytes(images: np.ndarray, *, seed: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for index, image in enumerate(images):
            archive.writestr(f"seed{seed}-{index:03d}.png", png_bytes(Image.fromarray(image)))
    return buffer.getvalue()


def gif_bytes(images: np.ndarray, *, frame_ms: int = 120) -> bytes:
    """A looping GIF that walks forward then back, so the loop has no jump."""
    import imageio.v3 as iio

    frames = np.concatenate([images, images[-2:0:-1]]) if len(images) > 2 else images
    return iio.imwrite("<bytes>", frames, extension=".gif", duration=frame_ms, loop=0)
