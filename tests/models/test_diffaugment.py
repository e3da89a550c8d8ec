"""DiffAugment ops: shapes (incl. non-square), reproducibility from the loop generator, and gradients."""

from __future__ import annotations

import pytest
import torch

from models.diffaugment import diff_augment


def _images() -> torch.Tensor:
    return torch.rand(4, 3, 16, 24, generator=torch.Generator().manual_seed(0)) * 2 - 1


@pytest.mark.parametrize(
    "ops", [("color",), ("translation",), ("cutout",), ("color", "translation", "cutout")]
)
def test_ops_keep_shape_change_pixels_and_repeat_by_seed(ops: tuple[str, ...]) -> None:
    x = _images()
    a = diff_augment(x, ops, torch.Generator().manual_seed(1))
    b = diff_augment(x, ops, torch.Generator().manual_seed(1))
    c = diff_augment(x, ops, torch.Generator().manual_seed(2))
    assert a.shape == x.shape
    assert not torch.equal(a, x)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_empty_policy_is_identity() -> None:
    x = _images()
    assert diff_augment(x, (), torch.Generator()) is x


def test_cutout_zeroes_at_most_a_quarter_of_each_image() -> None:
    x = torch.ones(8, 3, 16, 24)
    out = diff_augment(x, ("cutout",), torch.Generator().manual_seed(0))
    zero_fraction = (out[:, 0] == 0).float().flatten(1).mean(1)
    assert (zero_fraction > 0).all() and (zero_fraction <= 0.25).all()


def test_translation_shifts_content_by_at_most_an_eighth() -> None:
    x = torch.zeros(16, 1, 16, 16)
    x[:, :, 8, 8] = 1.0
    out = diff_augment(x, ("translation",), torch.Generator().manual_seed(0))
    for img in out[:, 0]:
        ys, xs = torch.nonzero(img, as_tuple=True)
        assert len(ys) == 1 and abs(ys.item() - 8) <= 2 and abs(xs.item() - 8) <= 2


def test_gradients_flow_through_every_op() -> None:
    x = _images().requires_grad_(True)
    diff_augment(x, ("color", "translation", "cutout"), torch.Generator().manual_seed(0)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
