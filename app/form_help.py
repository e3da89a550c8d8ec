"""Plain-language help and option labels for the new-run form, where TrainConfig's own descriptions (also
the API's) speak Python ("None = off")."""

from __future__ import annotations

HELP: dict[str, str] = {
    "arch": "Which network. At 64 px dcgan and dcgan64 build the same network: dcgan64 always has four "
    "up-sampling blocks (image sides multiples of 16), dcgan picks the number from the image size, so it "
    "also fits small test images. dcgan128 has five blocks (sides multiples of 32); cnn96 starts from a 6x6 "
    "grid and uses 3x3 convolutions (96 px).",
    "image_size": "Height of the training images in pixels (and their width, unless you set a width).",
    "image_width": "Width in pixels, for non-square images such as cards. Leave empty for square images.",
    "nz": "Length of the random noise vector each generated image starts from.",
    "ngf": "Width of the generator (channels of its last layer); bigger learns more, trains slower.",
    "ndf": "Width of the discriminator (channels of its first layer).",
    "batch_size": "Images per training step.",
    "epochs": "How many times training goes over the whole dataset.",
    "grad_clip": "Limit each network's gradient size to this value. Leave empty for no limit.",
    "gp_weight": "Strength of the gradient penalty. Leave empty for the usual choice: 10 with wgan-gp, "
    "off otherwise; 0 turns it off.",
    "r1_weight": "Strength of the R1 penalty on real images (gamma); 0 turns it off.",
    "feature_matching_weight": "Weight of the feature-matching term in the generator's loss; 0 turns it off.",
    "ema_decay": "Keep a smoothed copy of the generator (an exponential moving average), e.g. 0.999; "
    "generating from it usually looks cleaner. Leave empty for none.",
    "diffaugment": "Augment real and generated images alike: any of color, translation, cutout, separated "
    "by commas. Leave empty for none. Helps a lot on small datasets.",
    "loss": "bce: the standard GAN loss; hinge: often steadier; wgan-gp: Wasserstein loss with a gradient "
    "penalty.",
    "d_norm": "Normalisation in the discriminator; auto = BatchNorm, unless spectral norm or a gradient "
    "penalty is on.",
    "grad_stats_every": "Record per-layer gradient sizes (the gradient-flow panel) every this many steps; "
    "0 turns it off.",
}


ARCH_LABELS = {  # short: the drop-down is narrow; the field's help says more
    "dcgan": "dcgan — any size, 8 px up",
    "dcgan64": "dcgan64 — classic, 64 px",
    "dcgan128": "dcgan128 — 128 px",
    "cnn96": "cnn96 — 3x3 convs, 96 px",
}


def arch_label(name: str) -> str:
    return ARCH_LABELS.get(name, name)


CHOICE_LABELS = {"arch": arch_label}
