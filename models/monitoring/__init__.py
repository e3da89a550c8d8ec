"""Catching failure as it happens: detectors on the metric stream and on samples, quality numbers, best epoch.

In the loop: pass a MonitorHook in train(hooks=...). It runs one MonitorSuite (`observe_iteration` on every
metric row, `observe_epoch` with the fixed-noise samples at each epoch end), logs the events, measures
per-epoch quality, acts under its policy and keeps its state in the checkpoints.
"""

from models.monitoring.collapse import DiversityStats, ModeCollapseDetector, sample_diversity
from models.monitoring.detector_hook import POLICIES, MonitorHook, RatedCheckpoint, quality_from_dict
from models.monitoring.features import ImageBatchError, RandomFeatures, random_features
from models.monitoring.fid import (
    ENABLE_HINT,
    INCEPTION_FILE,
    FidKid,
    fid_kid,
    fid_kid_with,
    frechet_distance,
    kernel_distance,
    load_inception,
)
from models.monitoring.overfit import OverfitDetector, OverfitStats, overfit_stats
from models.monitoring.quality import EpochQuality, epoch_quality
from models.monitoring.selection import DISQUALIFYING_KINDS, choose_best_epoch, failure_spans
from models.monitoring.settings import DetectorSettings
from models.monitoring.stream import DivergenceDetector, OverpowerDetector, RollingWindow, SaturationDetector
from models.monitoring.suite import EVENT_KINDS, MonitorSuite

__all__ = [
    "DISQUALIFYING_KINDS",
    "ENABLE_HINT",
    "EVENT_KINDS",
    "INCEPTION_FILE",
    "POLICIES",
    "DetectorSettings",
    "DivergenceDetector",
    "DiversityStats",
    "EpochQuality",
    "FidKid",
    "ImageBatchError",
    "ModeCollapseDetector",
    "MonitorHook",
    "MonitorSuite",
    "OverfitDetector",
    "OverfitStats",
    "OverpowerDetector",
    "RatedCheckpoint",
    "RandomFeatures",
    "RollingWindow",
    "SaturationDetector",
    "choose_best_epoch",
    "epoch_quality",
    "failure_spans",
    "fid_kid",
    "fid_kid_with",
    "frechet_distance",
    "kernel_distance",
    "load_inception",
    "overfit_stats",
    "quality_from_dict",
    "random_features",
    "sample_diversity",
]
