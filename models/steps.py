"""One training iteration: d_steps updates of D, then one of G, as in pytorch/examples dcgan/main.py."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from models import losses, series
from models.distributed import mean_over_ranks
from models.ema import update_ema
from models.sink import GradStat
from models.training_state import TrainingState


@dataclass
class StepOutput:
    values: dict[str, float]  # every declared series (models/series.py), with one device sync for all
    grad_stats: list[GradStat]


def train_step(
    s: TrainingState, real: torch.Tensor, *, collect_grads: bool, labels: torch.Tensor | None = None
) -> StepOutput:
    """Update D `d_steps` times on this real batch (fresh noise each time), then G once, then the lr.
    A conditional run passes the batch's labels; its fakes get the same labels (Miyato & Koyama 2018)."""
    n = real.size(0)
    cond = () if labels is None else (labels,)
    for k in range(s.config.d_steps):
        last = k == s.config.d_steps - 1
        # The last fake keeps its graph: the G step reuses it, like the seed's single forward pass.
        with torch.set_grad_enabled(last), s.autocast():
            fake = s.g_forward(s.noise(n), *cond)
        loss_d, d_x, d_g_z1, feats_real, d_stats = d_step(
            s, real, fake, collect_grads=collect_grads and last, cond=cond
        )
    loss_g, d_g_z2, g_stats = g_step(s, fake, feats_real, collect_grads=collect_grads, cond=cond)
    s.sched_g.step()
    s.sched_d.step()
    if s.ada is not None:
        s.ada.end_step()
    tensors = {"loss_d": loss_d, "loss_g": loss_g, "d_x": d_x, "d_g_z1": d_g_z1, "d_g_z2": d_g_z2}
    values = mean_over_ranks(series.step_values(tensors, s), s.world_size)
    return StepOutput(values=values, grad_stats=d_stats + g_stats)


def d_step(
    s: TrainingState, real: torch.Tensor, fake: torch.Tensor, *, collect_grads: bool, cond: tuple = ()
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, list[GradStat]]:
    """Maximise log D(x) + log(1 - D(G(z))) (or the hinge/Wasserstein equivalent) plus any penalties."""
    cfg = s.config
    real_in = s.augment(real)
    fake_in = s.augment(fake.detach())
    if cfg.r1_weight > 0:
        real_in = real_in.detach().requires_grad_(True)
    with s.autocast():
        logit_real, feats_real, recon = _d_on_real(s, real_in, cond)
        logit_fake = s.d_forward(fake_in, *cond)
    loss = losses.d_loss(cfg.loss, logit_real, logit_fake, _bce_targets(s, real.size(0)))
    loss = loss + _penalties(s, real_in, fake_in, logit_real, cond)
    if recon is not None:
        loss = loss + cfg.recon_weight * recon
    if s.ada is not None:
        s.ada.observe(logit_real)
    s.opt_d.zero_grad(set_to_none=True)
    s.scaler_d.scale(loss).backward()
    stats = _clip_and_measure(s.D, s.opt_d, s.scaler_d, s, "D", collect_grads)
    s.scaler_d.step(s.opt_d)
    s.scaler_d.update()
    d_x = losses.d_score(cfg.loss, logit_real)
    d_g_z1 = losses.d_score(cfg.loss, logit_fake)
    return loss.detach(), d_x, d_g_z1, feats_real.detach(), stats


def g_step(
    s: TrainingState, fake: torch.Tensor, feats_real: torch.Tensor, *, collect_grads: bool, cond: tuple = ()
) -> tuple[torch.Tensor, torch.Tensor, list[GradStat]]:
    """Make the updated D call the same fakes real; optionally match D's mean features on real images."""
    cfg = s.config
    s.D.requires_grad_(False)  # only G's weights move here; skips D's weight gradients
    try:
        with s.autocast():
            logit_fake, feats_fake = s.D.forward_with_features(s.augment(fake), *cond)
        loss = losses.g_loss(cfg.loss, logit_fake)
        if cfg.feature_matching_weight > 0:
            loss = loss + cfg.feature_matching_weight * losses.feature_matching(feats_real, feats_fake)
        s.opt_g.zero_grad(set_to_none=True)
        s.scaler_g.scale(loss).backward()
        stats = _clip_and_measure(s.G, s.opt_g, s.scaler_g, s, "G", collect_grads)
        s.scaler_g.step(s.opt_g)
        s.scaler_g.update()
    finally:
        s.D.requires_grad_(True)
    if s.ema is not None:
        update_ema(s.ema, s.G, cfg.ema_decay, s.step)
    return loss.detach(), losses.d_score(cfg.loss, logit_fake), stats


def _d_on_real(
    s: TrainingState, real_in: torch.Tensor, cond: tuple = ()
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """D's logits and features on the real batch (given its labels when conditional); a self-supervised D
    (FastGAN) also reconstructs it."""
    if s.config.recon_weight > 0 and hasattr(s.D, "forward_with_reconstruction"):
        logits, feats, recon = s.D.forward_with_reconstruction(real_in, s.gen, *cond)
        s.recon_loss = recon.detach()
        return logits, feats, recon
    logits, feats = s.D.forward_with_features(real_in, *cond)
    return logits, feats, None


def _bce_targets(s: TrainingState, n: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    cfg = s.config
    if cfg.loss != "bce" or (cfg.real_label == 1.0 and cfg.label_flip_prob == 0):
        return None
    real, fake = losses.bce_targets(
        n * s.world_size,
        real_label=cfg.real_label,
        flip_prob=cfg.label_flip_prob,
        generator=s.gen,
        device=s.device,
    )
    return s.rank_share(real), s.rank_share(fake)


def _penalties(
    s: TrainingState, real_in: torch.Tensor, fake_in: torch.Tensor, logit_real: torch.Tensor, cond: tuple = ()
) -> torch.Tensor:
    """Gradient penalties in float32 (outside autocast): their second derivatives are precision-sensitive."""
    cfg = s.config
    total = torch.zeros((), device=s.device)
    with torch.autocast(s.device.type, enabled=False):
        if cfg.effective_gp_weight > 0:
            eps = torch.rand(real_in.size(0) * s.world_size, 1, 1, 1, generator=s.gen)
            eps = s.rank_share(eps).to(s.device, non_blocking=True)
            total = total + cfg.effective_gp_weight * losses.gradient_penalty(
                lambda x: s.D(x, *cond), real_in.float(), fake_in.float(), eps
            )
        if cfg.r1_weight > 0:
            total = total + cfg.r1_weight / 2 * losses.r1_penalty(logit_real, real_in)
    return total


def _clip_and_measure(
    net: nn.Module,
    opt: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    s: TrainingState,
    name: str,
    collect: bool,
) -> list[GradStat]:
    """Unscale (fp16), record gradient statistics if due, then clip: in this order both see true grads."""
    if not collect and s.config.grad_clip is None:
        return []
    scaler.unscale_(opt)
    stats = grad_stats(net, name, s.step + 1) if collect else []
    if s.config.grad_clip is not None:
        nn.utils.clip_grad_norm_(net.parameters(), s.config.grad_clip)
    return stats


def grad_stats(net: nn.Module, name: str, step: int) -> list[GradStat]:
    """Mean and max |grad| of every weight matrix/kernel of `net`, read back in one transfer."""
    layers, values = [], []
    for pname, p in net.named_parameters():
        if p.grad is None or p.ndim < 2:
            continue
        g = p.grad.detach().abs()
        layers.append(pname.removesuffix(".parametrizations.weight.original").removesuffix(".weight"))
        values.append(torch.stack([g.mean(), g.max()]).float())
    if not values:
        return []
    rows = torch.stack(values).tolist()
    return [
        GradStat(step=step, net=name, layer=layer, mean_abs=m, max_abs=x)
        for layer, (m, x) in zip(layers, rows, strict=True)
    ]
