"""Class-conditional G and D for any family that builds a Generator (a Sequential `main`) and a
Discriminator (`body` then `head`), and for the FastGAN family (its base grid and its 8-row features).

G: a learned class embedding scales and shifts the base grid's BatchNorm output per channel (conditional
BatchNorm, de Vries et al. 2017, https://arxiv.org/abs/1707.00683, at the base grid only, so a family
just names where its base grid ends). D: the projection discriminator of Miyato & Koyama 2018
(https://arxiv.org/abs/1802.05637): logit(x, y) = psi(phi(x)) + <embed(y), phi(x)>, phi(x) being D's body
output summed over space.

Both embeddings start at zero and both class terms are multiplied by a `strength` buffer, so a
conditional net at strength 0 computes exactly what its unconditional base computes. The training loop
raises the strength from 0 to 1 over a transition period (Shahbazi et al. 2022, "Collapse by
Conditioning", https://arxiv.org/abs/2206.06970: train unconditionally first, then blend the condition in).
The strength is a buffer, so checkpoints, EMA copies and generation keep the value training had.
"""

from __future__ import annotations

import torch
from torch import nn

from models.nets.fastgan import FastGANDiscriminator, FastGANGenerator
from models.nets.layers import Discriminator, Generator


def _zero_embedding(n_classes: int, dim: int) -> nn.Embedding:
    # Made from zeros rather than initialised: no draw from the global RNG, so the base nets built
    # after it get the same weights as in an unconditional run with the same seed.
    return nn.Embedding.from_pretrained(torch.zeros(n_classes, dim), freeze=False)


def class_embedding(embed: nn.Embedding, y: torch.Tensor) -> torch.Tensor:
    """embed[y] for class indices; for N x K class weights (a blend of labels, rows summing to 1) the
    same blend of the classes' embeddings, which is how a strip walks from one label to another."""
    if y.is_floating_point():
        return y.to(embed.weight.dtype) @ embed.weight
    return embed(y)


class ClassModulation(nn.Module):
    """h * (1 + strength * gamma[y]) + strength * beta[y], per channel: conditional BatchNorm's affine."""

    def __init__(self, n_classes: int, channels: int) -> None:
        super().__init__()
        self.embed = _zero_embedding(n_classes, 2 * channels)
        self.register_buffer("strength", torch.ones(()))

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        gamma, beta = (
            (self.strength * class_embedding(self.embed, y)).to(h.dtype)[:, :, None, None].chunk(2, dim=1)
        )
        return h * (1 + gamma) + beta


class ProjectionHead(nn.Module):
    """strength * <embed(y), sum over space of h>: the class term of a projection discriminator."""

    def __init__(self, n_classes: int, channels: int) -> None:
        super().__init__()
        self.embed = _zero_embedding(n_classes, channels)
        self.register_buffer("strength", torch.ones(()))

    def forward(self, h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        phi = h.sum(dim=(2, 3))
        return self.strength * (self.embed(y).to(phi.dtype) * phi).sum(dim=1)


class ConditionalGenerator(Generator):
    """`base` with its output after main[inject_after] (the base grid's BatchNorm) modulated by class."""

    def __init__(self, base: Generator, *, n_classes: int, inject_after: int, channels: int) -> None:
        super().__init__(base.main, nz=base.nz, image_shape=base.image_shape)
        self.n_classes = n_classes
        self.inject_after = inject_after
        self.modulation = ClassModulation(n_classes, channels)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            raise ValueError("a conditional generator needs one class index per latent")
        h = z
        for index, layer in enumerate(self.main):
            h = layer(h)
            if index == self.inject_after:
                h = self.modulation(h, y)
        return h


class ProjectionDiscriminator(Discriminator):
    """`base` plus a projection term; without labels (feature probes, detectors) it is the base D."""

    def __init__(self, base: Discriminator, *, n_classes: int, channels: int) -> None:
        super().__init__(base.body, base.head)
        self.n_classes = n_classes
        self.projection = ProjectionHead(n_classes, channels)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_with_features(x, y)[0]

    def forward_with_features(
        self, x: torch.Tensor, y: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        logit = self.head(h).reshape(-1)
        if y is not None:
            logit = logit + self.projection(h, y)
        return logit, h.flatten(1)


class ConditionalFastGANGenerator(nn.Module):
    """A FastGAN G whose base grid (after its BatchNorm and GLU) is modulated by class."""

    def __init__(self, base: FastGANGenerator, *, n_classes: int) -> None:
        super().__init__()
        self.base = base
        self.nz, self.image_shape, self.n_classes = base.nz, base.image_shape, n_classes
        self.modulation = ClassModulation(n_classes, base.init[1].num_features // 2)  # GLU halves them

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is None:
            raise ValueError("a conditional generator needs one class index per latent")
        return self.base.grow(self.modulation(self.base.init(z), y))


class ConditionalFastGANDiscriminator(nn.Module):
    """A FastGAN D plus a projection term on its 8-row features; the reconstruction decoders are its own."""

    def __init__(self, base: FastGANDiscriminator, *, n_classes: int) -> None:
        super().__init__()
        self.base = base
        self.n_classes = n_classes
        self.projection = ProjectionHead(n_classes, base.head[0].in_channels)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_with_features(x, y)[0]

    def _logits(self, last: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        logit = self.base.score(last)
        return logit if y is None else logit + self.projection(last, y)

    def forward_with_features(
        self, x: torch.Tensor, y: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        last = self.base.levels(x)[-1]
        return self._logits(last, y), last.flatten(1)

    def forward_with_reconstruction(
        self, x: torch.Tensor, generator: torch.Generator, y: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        feats = self.base.levels(x)
        loss = self.base.reconstruction_loss(feats, x, generator)
        return self._logits(feats[-1], y), feats[-1].flatten(1), loss

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.base.features(x)

    def reconstruct(self, x: torch.Tensor, quarter: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.base.reconstruct(x, quarter)


def base_grid_norm_index(main: nn.Sequential) -> int:
    """Index of the first BatchNorm in G's main: the base grid of the dcgan and cnn96 families."""
    for index, layer in enumerate(main):
        if isinstance(layer, nn.BatchNorm2d):
            return index
    raise ValueError("this generator has no BatchNorm at its base grid to condition")


def make_conditional_generator(
    base: Generator | FastGANGenerator, n_classes: int
) -> ConditionalGenerator | ConditionalFastGANGenerator:
    if isinstance(base, FastGANGenerator):
        return ConditionalFastGANGenerator(base, n_classes=n_classes)
    index = base_grid_norm_index(base.main)
    channels = base.main[index].num_features
    return ConditionalGenerator(base, n_classes=n_classes, inject_after=index, channels=channels)


def make_projection_discriminator(
    base: Discriminator | FastGANDiscriminator, n_classes: int
) -> ProjectionDiscriminator | ConditionalFastGANDiscriminator:
    if isinstance(base, FastGANDiscriminator):
        return ConditionalFastGANDiscriminator(base, n_classes=n_classes)
    channels = base.head.in_channels  # the body's output channels: the head is one conv over them
    return ProjectionDiscriminator(base, n_classes=n_classes, channels=channels)


def set_strength(net: nn.Module | None, value: float) -> None:
    """Set every class term's strength in `net` (G, D or an EMA copy); nets without one are left alone."""
    if net is None:
        return
    for module in net.modules():
        if isinstance(module, ClassModulation | ProjectionHead):
            module.strength.fill_(value)
