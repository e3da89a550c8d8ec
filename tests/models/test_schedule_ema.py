"""Learning-rate schedules, lr rescaling for rollbacks, and the EMA update."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.config import TrainConfig
from models.ema import make_ema, update_ema
from models.schedule import lr_factor_fn, make_scheduler, set_base_lrs

ITERS = 10  # iterations per epoch; 4 epochs = 40 steps


def _factor(**fields) -> callable:
    return lr_factor_fn(TrainConfig(epochs=4, **fields), ITERS)


def test_schedules() -> None:
    assert _factor()(35) == 1.0
    step = _factor(lr_schedule="step", lr_step_epochs=1, lr_gamma=0.5)
    assert (step(9), step(10), step(25)) == (1.0, 0.5, 0.25)
    cosine = _factor(lr_schedule="cosine", lr_min_factor=0.1)
    assert cosine(0) == pytest.approx(1.0)
    assert cosine(20) == pytest.approx(0.55)
    assert cosine(40) == pytest.approx(0.1)
    linear = _factor(lr_schedule="linear")
    assert (linear(0), linear(20), linear(40)) == pytest.approx((1.0, 0.5, 0.0))


def test_scheduler_and_rescaling_keep_the_position() -> None:
    cfg = TrainConfig(epochs=4, lr_g=1e-3, lr_schedule="linear")
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=cfg.lr_g)
    sched = make_scheduler(opt, cfg, ITERS)
    for _ in range(20):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(5e-4)
    set_base_lrs(opt, sched, [lr / 2 for lr in sched.base_lrs])
    assert opt.param_groups[0]["lr"] == pytest.approx(2.5e-4)
    assert sched.get_last_lr() == pytest.approx([2.5e-4])
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(5e-4 * (1 - 21 / 40))  # halved base, next step


def test_ema_moves_towards_the_generator_and_copies_buffers() -> None:
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = make_ema(net)
    assert not ema.training and not any(p.requires_grad for p in ema.parameters())
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
        net[1].running_mean.fill_(3.0)
    old = [p.clone() for p in ema.parameters()]
    update_ema(ema, net, decay=0.5, step=1000)
    for p_old, p_ema, p in zip(old, ema.parameters(), net.parameters(), strict=True):
        assert torch.allclose(p_ema, (p_old + p) / 2)
    assert torch.equal(ema[1].running_mean, net[1].running_mean)
    # Early on, the warm-up makes the average follow G closely.
    fresh = make_ema(net)
    with torch.no_grad():
        net[0].weight.add_(1.0)
    update_ema(fresh, net, decay=0.999, step=0)
    assert torch.allclose(fresh[0].weight, net[0].weight - 0.1)
