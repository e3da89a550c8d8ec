"""FastGAN: skip-layer excitation in G and a self-supervised D with reconstruction decoders.

Liu et al., "Towards Faster and Stabilized GAN Training for High-fidelity Few-shot Image Synthesis",
ICLR 2021, https://arxiv.org/abs/2101.04775. Written from the paper and the structure of the authors'
models.py, for any image whose sides are 2^k multiples of a small base grid (64, 128, 256 px squares and
96x128 cards):

- G upsamples with nearest-neighbour + 3x3 conv + BatchNorm + GLU (no transposed convs, so no checkerboard),
  and each level r gates the channels of level 16r (skip-layer excitation, SLE).
- D downsamples with a two-path block (strided conv path + average-pool path), gates level r/8 with level r,
  scores the 8-row grid with patch logits (averaged to one logit per image), and two small decoders rebuild
  the whole image from the 8-row features and a random quarter of it from the 16-row features.

Left out on purpose: G's noise injection (samples would stop being a function of the seed alone, which
generate() promises) and the second, 128 px input branch of the original D.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from models.nets.recon import LPIPSLoss, ReconstructionLoss

# Channel multipliers by feature-map height, as in the reference (G: nfc_multi; D: its own table).
G_MULT = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25}
D_MULT = {4: 16, 8: 16, 16: 8, 32: 4, 64: 2, 128: 1, 256: 0.5, 512: 0.25}
SLE_SPAN = 16  # G: level r gates level 16r
D_SLE_SPAN = 8  # D: level r gates level r/8
SCORE_ROWS = 8  # D scores (and reconstructs from) the level with this many rows


def _width(base: int, mult: dict[int, float], rows: int) -> int:
    return max(8, int(base * mult.get(rows, min(mult.values()))))


class GLU(nn.Module):
    """Gated linear unit over channels: first half * sigmoid(second half)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        return a * torch.sigmoid(b)


class Swish(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


def up_block(c_in: int, c_out: int, double: bool) -> nn.Sequential:
    """2x nearest upsampling, then conv+BN+GLU once (or twice: the reference's UpBlockComp at low res)."""
    layers: list[nn.Module] = [
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(c_in, c_out * 2, 3, 1, 1, bias=False),
        nn.BatchNorm2d(c_out * 2),
        GLU(),
    ]
    if double:
        layers += [nn.Conv2d(c_out, c_out * 2, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out * 2), GLU()]
    return nn.Sequential(*layers)


class SkipExcitation(nn.Module):
    """SLE: a small feature map, pooled to 4x4 and squeezed to one gate per channel, scales a big one."""

    def __init__(self, c_small: int, c_big: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Conv2d(c_small, c_big, 4, 1, 0, bias=False),
            Swish(),
            nn.Conv2d(c_big, c_big, 1, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, small: torch.Tensor, big: torch.Tensor) -> torch.Tensor:
        return big * self.main(small)


class FastGANGenerator(nn.Module):
    """N x nz x 1 x 1 noise -> N x nc x H x W in [-1, 1]; the levels are keyed by their height."""

    def __init__(self, *, nz: int, ngf: int, height: int, width: int, n_up: int, nc: int = 3) -> None:
        super().__init__()
        self.nz = nz
        self.image_shape = (nc, height, width)
        bh, bw = height >> n_up, width >> n_up
        self.rows = [bh << i for i in range(n_up + 1)]  # e.g. 4, 8, 16, 32, 64 at 64 px
        widths = [_width(ngf, G_MULT, r) for r in self.rows]
        # input is Z, going into a convolution; state size. (widths[0]) x bh x bw
        self.init = nn.Sequential(
            nn.ConvTranspose2d(nz, widths[0] * 2, (bh, bw), 1, 0, bias=False),
            nn.BatchNorm2d(widths[0] * 2),
            GLU(),
        )
        # state size doubles per block: (widths[i]) x (bh*2^i) x (bw*2^i)
        self.ups = nn.ModuleList(
            up_block(widths[i - 1], widths[i], double=self.rows[i] <= 32) for i in range(1, n_up + 1)
        )
        self.sle_pairs = [(i, i + 4) for i in range(n_up + 1) if i + 4 <= n_up]  # level r -> 16r
        self.sle = nn.ModuleDict(
            {f"{i}_{j}": SkipExcitation(widths[i], widths[j]) for i, j in self.sle_pairs}
        )
        # state size. (nc) x H x W
        self.to_image = nn.Sequential(nn.Conv2d(widths[-1], nc, 3, 1, 1, bias=False), nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.grow(self.init(z))

    def grow(self, base: torch.Tensor) -> torch.Tensor:
        """The image from the base grid's features (a conditional G modulates them first)."""
        feats = [base]
        for i, up in enumerate(self.ups, start=1):
            h = up(feats[-1])
            for src, dst in self.sle_pairs:
                if dst == i:
                    h = self.sle[f"{src}_{dst}"](feats[src], h)
            feats.append(h)
        return self.to_image(feats[-1])


class DownBlock(nn.Module):
    """The reference's DownBlockComp: mean of a strided 4x4 + 3x3 conv path and an avg-pool + 1x1 path."""

    def __init__(self, c_in: int, c_out: int, batchnorm: bool) -> None:
        super().__init__()

        def norm(c: int) -> nn.Module:
            return nn.BatchNorm2d(c) if batchnorm else nn.Identity()

        self.main = nn.Sequential(
            nn.Conv2d(c_in, c_out, 4, 2, 1, bias=not batchnorm),
            norm(c_out),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=not batchnorm),
            norm(c_out),
            nn.LeakyReLU(0.2),
        )
        self.direct = nn.Sequential(
            nn.AvgPool2d(2, 2),
            nn.Conv2d(c_in, c_out, 1, 1, 0, bias=not batchnorm),
            norm(c_out),
            nn.LeakyReLU(0.2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.main(x) + self.direct(x)) / 2


class Decoder(nn.Module):
    """The reference's SimpleDecoder: `n_up` GLU upsampling blocks from a feature grid to an RGB image."""

    def __init__(self, c_in: int, ndf: int, n_up: int, nc: int = 3) -> None:
        super().__init__()
        rows = [SCORE_ROWS << i for i in range(n_up + 1)]
        widths = [c_in] + [_width(ndf, D_MULT, 2 * r) for r in rows[1:]]
        self.main = nn.Sequential(
            *(up_block(widths[i], widths[i + 1], double=False) for i in range(n_up)),
            nn.Conv2d(widths[-1], nc, 3, 1, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x)


class FastGANDiscriminator(nn.Module):
    """Images in [-1, 1] -> one logit per image; on real batches also the reconstruction loss."""

    def __init__(
        self,
        *,
        ndf: int,
        height: int,
        width: int,
        batchnorm: bool = True,
        nc: int = 3,
        recon: ReconstructionLoss | LPIPSLoss | None = None,
    ) -> None:
        super().__init__()
        n_down = max(1, (height // SCORE_ROWS).bit_length() - 1)  # 64 px: 3 blocks, 64 -> 8 rows
        self.rows = [height >> i for i in range(n_down + 1)]
        widths = [_width(ndf, D_MULT, 2 * r) for r in self.rows]
        # input is (nc) x H x W; state size. (widths[0]) x H x W
        self.stem = nn.Sequential(nn.Conv2d(nc, widths[0], 3, 1, 1, bias=False), nn.LeakyReLU(0.2))
        # state size halves per block down to (widths[-1]) x 8 x (8 * W / H)
        self.downs = nn.ModuleList(DownBlock(widths[i], widths[i + 1], batchnorm) for i in range(n_down))
        self.sle_pairs = [(i, i + 3) for i in range(n_down + 1) if i + 3 <= n_down]  # level r -> r/8
        self.sle = nn.ModuleDict(
            {f"{i}_{j}": SkipExcitation(widths[i], widths[j]) for i, j in self.sle_pairs}
        )
        score_w = widths[-1]
        self.head = nn.Sequential(
            nn.Conv2d(score_w, score_w, 1, 1, 0, bias=not batchnorm),
            nn.BatchNorm2d(score_w) if batchnorm else nn.Identity(),
            nn.LeakyReLU(0.2),
            nn.Conv2d(score_w, 1, 4, 1, 0, bias=False),
            # state size. 1 x 5 x (5 * W / H - ...): patch logits, averaged per image
        )
        # Decoders rebuild at about half the image height (32 rows for 64 px images, 128 for 256 px ones)
        # from the last level, and a quarter of the image from a quarter of the level before it.
        last_rows = self.rows[-1]
        goal = min(height, max(32, min(128, height // 2)))
        n_dec = max(1, round(math.log2(goal / last_rows)))
        self.recon_rows = last_rows << n_dec
        self.part_level = len(self.rows) - 2 if n_down >= 1 else None
        self.decoder_whole = Decoder(score_w, ndf, n_dec, nc)
        self.decoder_part = (
            Decoder(widths[self.part_level], ndf, n_dec, nc) if self.part_level is not None else None
        )
        self.recon = recon or ReconstructionLoss()

    def levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(x)]
        for i, down in enumerate(self.downs, start=1):
            h = down(feats[-1])
            for src, dst in self.sle_pairs:
                if dst == i:
                    h = self.sle[f"{src}_{dst}"](feats[src], h)
            feats.append(h)
        return feats

    def score(self, last: torch.Tensor) -> torch.Tensor:
        return self.head(last).flatten(1).mean(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.levels(x)[-1])

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the flattened 8-row features (feature matching, detectors)."""
        last = self.levels(x)[-1]
        return self.score(last), last.flatten(1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.levels(x)[-1].flatten(1)

    def forward_with_reconstruction(
        self, x: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits, features and the self-supervised loss on a real batch x: the whole image rebuilt from
        the 8-row features, and one quarter (the same random one for the batch, drawn from `generator`)
        rebuilt from that quarter of the 16-row features."""
        feats = self.levels(x)
        last = feats[-1]
        return self.score(last), last.flatten(1), self.reconstruction_loss(feats, x, generator)

    def reconstruction_loss(
        self, feats: list[torch.Tensor], x: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        size = (self.recon_rows, self.recon_rows * x.size(3) // x.size(2))
        loss = self.recon(self.decoder_whole(feats[-1]), _resize(x, size))
        if self.decoder_part is not None:
            quarter = int(torch.randint(0, 4, (1,), generator=generator))
            part_feat = _quarter(feats[self.part_level], quarter)
            loss = loss + self.recon(self.decoder_part(part_feat), _resize(_quarter(x, quarter), size))
        return loss

    def reconstruct(self, x: torch.Tensor, quarter: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Both decoders' images for x (for looking at what D has learnt, and for the tests)."""
        feats = self.levels(x)
        whole = self.decoder_whole(feats[-1])
        if self.decoder_part is None:
            return whole, None
        return whole, self.decoder_part(_quarter(feats[self.part_level], quarter))


def _quarter(x: torch.Tensor, index: int) -> torch.Tensor:
    """Top-left, top-right, bottom-left or bottom-right quarter (index 0-3) of N x C x H x W."""
    h, w = x.size(2) // 2, x.size(3) // 2
    top, left = (index // 2) * h, (index % 2) * w
    return x[:, :, top : top + h, left : left + w]


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="area")


def fastgan_generator(*, nz: int, ngf: int, height: int, width: int, n_up: int) -> FastGANGenerator:
    return FastGANGenerator(nz=nz, ngf=ngf, height=height, width=width, n_up=n_up)


def fastgan_discriminator(
    *, ndf: int, height: int, width: int, batchnorm: bool, recon: ReconstructionLoss | LPIPSLoss
) -> FastGANDiscriminator:
    return FastGANDiscriminator(ndf=ndf, height=height, width=width, batchnorm=batchnorm, recon=recon)
