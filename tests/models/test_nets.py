"""Network shapes, the classic layouts, and the arch registry's size rules."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from models.archs import base_grid, upsampling_steps
from models.config import TrainConfig
from models.nets import build_discriminator, build_generator, build_networks


@pytest.mark.parametrize(
    ("arch", "height", "width", "base"),
    [
        ("dcgan", 32, 32, (4, 4)),
        ("dcgan64", 64, 64, (4, 4)),
        ("dcgan", 96, 96, (6, 6)),
        ("cnn96", 96, 96, (6, 6)),
        ("dcgan128", 128, 128, (4, 4)),
        ("dcgan64", 64, 96, (4, 6)),
        ("cnn96", 96, 64, (6, 4)),
        ("dcgan", 32, 48, (4, 6)),
    ],
)
def test_output_shapes(arch: str, height: int, width: int, base: tuple[int, int]) -> None:
    cfg = TrainConfig(arch=arch, image_size=height, image_width=width, nz=8, ngf=4, ndf=4)
    G, D = build_networks(cfg)
    z = torch.randn(2, 8, 1, 1)
    with torch.no_grad():
        x = G(z)
        logits, feats = D.forward_with_features(x)
    assert base_grid(arch, height, width) == base
    assert G.main[0].kernel_size == base  # the first ConvTranspose lifts 1x1 noise to the base grid
    assert D.head.kernel_size == base  # the last conv reads the whole base grid
    assert x.shape == (2, 3, height, width)
    assert x.abs().max() <= 1.0
    assert logits.shape == (2,)
    assert feats.shape[0] == 2 and feats.dim() == 2


def _param_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_dcgan64_is_the_pytorch_examples_network() -> None:
    # pytorch/examples dcgan with nz=100, ngf=ndf=64 has exactly these parameter counts.
    G, D = build_networks(TrainConfig(arch="dcgan64"))
    assert _param_count(G) == 3_576_704
    assert _param_count(D) == 2_765_568
    convs = [m for m in G.main if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [512, 256, 128, 64, 3]
    assert isinstance(G.main[-1], nn.Tanh)
    assert [m.negative_slope for m in D.body if isinstance(m, nn.LeakyReLU)] == [0.2] * 4
    assert not isinstance(D.body[1], nn.BatchNorm2d)  # no BatchNorm on D's first layer


def test_dcgan128_has_one_more_block_than_dcgan64() -> None:
    G64 = build_generator(TrainConfig(arch="dcgan64", ngf=4, ndf=4))
    G128 = build_generator(TrainConfig(arch="dcgan128", image_size=128, ngf=4, ndf=4))

    def upsamplers(net: nn.Module) -> int:
        return sum(isinstance(m, nn.ConvTranspose2d) for m in net.modules())

    assert upsamplers(G128) == upsamplers(G64) + 1


def test_cnn96_channels_follow_seed_001() -> None:
    cfg = TrainConfig(arch="cnn96", image_size=96, nz=50, spectral_norm=True)
    G, D = build_networks(cfg)
    ups = [m for m in G.main if isinstance(m, nn.ConvTranspose2d)]
    assert ups[0].in_channels == 50 and ups[0].kernel_size == (6, 6)
    assert [m.out_channels for m in ups] == [512, 512, 256, 128, 64]
    out_conv = [m for m in G.main if isinstance(m, nn.Conv2d)][-1]
    assert out_conv.kernel_size == (3, 3) and isinstance(G.main[-1], nn.Tanh)
    d_convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in d_convs] == [64, 128, 256, 512, 1024, 1]
    assert d_convs[-1].kernel_size == (6, 6)
    assert all(hasattr(m, "parametrizations") for m in d_convs)  # spectral norm everywhere
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


def test_extra_layers_add_stride_one_blocks_without_changing_shapes() -> None:
    def stride_one(net: nn.Module) -> int:
        return sum(
            isinstance(m, nn.Conv2d) and m.stride == (1, 1) and m.kernel_size == (3, 3) for m in net.modules()
        )

    base = TrainConfig(arch="dcgan", image_size=32, nz=8, ngf=4, ndf=4)
    more = base.model_copy(update={"extra_layers": 2})
    G0, D0 = build_networks(base)
    G2, D2 = build_networks(more)
    assert stride_one(G2) == stride_one(G0) + 2
    assert stride_one(D2) == stride_one(D0) + 2
    x = G2(torch.randn(2, 8, 1, 1))
    assert x.shape == (2, 3, 32, 32) and D2(x).shape == (2,)


def test_weights_follow_dcgan_init() -> None:
    G, D = build_networks(TrainConfig(arch="dcgan64"))
    conv = G.main[3].weight
    assert abs(conv.std().item() - 0.02) < 0.002 and abs(conv.mean().item()) < 0.002
    bn = G.main[1].weight
    assert abs(bn.mean().item() - 1.0) < 0.01 and 0.01 < bn.std().item() < 0.03


def test_spectral_norm_and_batchnorm_choices() -> None:
    small = {"arch": "dcgan", "image_size": 16, "ngf": 4, "ndf": 4}
    plain = build_discriminator(TrainConfig(**small))
    assert any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    sn = build_discriminator(TrainConfig(**small, spectral_norm=True))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in sn.modules())
    assert all(hasattr(m, "parametrizations") for m in sn.modules() if isinstance(m, nn.Conv2d))
    forced = build_discriminator(TrainConfig(**small, spectral_norm=True, d_norm="batch"))
    assert any(isinstance(m, nn.BatchNorm2d) for m in forced.modules())


def test_build_networks_is_seeded_and_leaves_global_rng_alone() -> None:
    cfg = TrainConfig(arch="dcgan", image_size=16, ngf=4, ndf=4, seed=3)
    before = torch.get_rng_state()
    G1, _ = build_networks(cfg)
    assert torch.equal(torch.get_rng_state(), before)
    G2, _ = build_networks(cfg)
    G3, _ = build_networks(cfg.model_copy(update={"seed": 4}))
    assert torch.equal(G1.main[0].weight, G2.main[0].weight)
    assert not torch.equal(G1.main[0].weight, G3.main[0].weight)


def test_sizes_that_do_not_fit_are_refused_clearly() -> None:
    assert upsampling_steps("dcgan", 64, 96) == 4
    with pytest.raises(ValueError, match="multiples of 16"):
        upsampling_steps("dcgan64", 64, 100)
    with pytest.raises(ValidationError, match="multiples of 16"):
        TrainConfig(arch="dcgan64", image_size=64, image_width=100)
    with pytest.raises(ValidationError, match="multiples of 32"):
        TrainConfig(arch="dcgan128", image_size=128, image_width=80)
    with pytest.raises(ValidationError, match="unknown arch"):
        TrainConfig(arch="stylegan")
