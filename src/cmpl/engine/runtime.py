"""Run-time choices shared by training and by using a finished run: the device, each role's clip sampling,
the mixed-precision rule and the test set."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from cmpl.config import Config
from cmpl.data.annotations import VideoRecord
from cmpl.data.augment import ClipAugment
from cmpl.data.datasets import TestClips
from cmpl.data.sampling import ClipSpec
from cmpl.engine import distributed
from cmpl.models import get_model_entry

__all__ = [
    "clip_specs",
    "enabled_on",
    "input_augment",
    "input_normalizer",
    "resolve_device",
    "test_clips",
    "test_records",
    "use_amp",
]


def resolve_device(name: str) -> torch.device:
    """``auto`` picks this process's GPU under torchrun (LOCAL_RANK), else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", distributed.local_rank())
        return torch.device("cpu")
    return torch.device(name)


def clip_specs(config: Config, roles: tuple[str, ...]) -> list[ClipSpec]:
    """Frames x stride per network role: 8x8 for F and 16x4 for A by default (paper Sec. 4.1)."""
    m = config.model
    table = {
        "primary": ClipSpec(m.primary.frames, m.primary.stride),
        "auxiliary": ClipSpec(m.auxiliary.frames, m.auxiliary.stride),
    }
    return [table[r] for r in roles]


def input_augment(config: Config, role: str) -> ClipAugment:
    """The augmentation whose ``normalize`` turns uint8 clips into the float input of the network ``role``:
    ``(x / 255 - mean) / std`` with the mean and std its registry entry records (0.45 / 0.225 for the
    3D-ResNets and SlowFast, PySlowFast's; torchvision's networks their weights' own)."""
    spec = get_model_entry(getattr(config.model, role).name).input
    return ClipAugment(mean=spec.mean, std=spec.std)


def input_normalizer(config: Config, role: str) -> Callable[..., torch.Tensor]:
    """uint8 clips -> the float input of the network ``role`` (see :func:`input_augment`)."""
    return input_augment(config, role).normalize


def enabled_on(setting: bool | str, device: torch.device) -> bool:
    """A ``train.amp`` / ``train.channels_last`` value on this device: ``auto`` means on CUDA only."""
    return device.type == "cuda" if setting == "auto" else bool(setting)


def use_amp(config: Config, device: torch.device) -> bool:
    """bf16 autocast as ``train.amp`` says on this device (``auto``: CUDA only)."""
    return enabled_on(config.train.amp, device)


def test_records(config: Config, records: Sequence[VideoRecord]) -> list[VideoRecord]:
    """The configured test set: the first ``eval.max_videos`` records (all when 0)."""
    limit = config.eval.max_videos
    return list(records[:limit] if limit else records)


def test_clips(
    config: Config,
    records: Sequence[VideoRecord],
    num_clips: int | None = None,
    num_crops: int | None = None,
    role: str = "primary",
) -> TestClips:
    """Multi-view test clips of ``records`` on the frames of the network ``role`` (views default to the eval
    config)."""
    e = config.eval
    return TestClips(
        records,
        clip_specs(config, (role,))[0],
        num_clips=e.num_clips if num_clips is None else num_clips,
        num_crops=e.num_crops if num_crops is None else num_crops,
        short_side=e.short_side,
        crop_size=e.crop_size,
        backend=config.data.backend,
        cache_decoded=config.data.cache_decoded,
    )
