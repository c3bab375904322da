"""Tests for cmpl.data.augment: CPU crops/resizes and the batched, clip-consistent device augmentation."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from cmpl.data.augment import (
    GREY,
    ClipAugment,
    center_crop,
    random_crop,
    resize_short_side,
    spatial_crops,
    standard_spatial,
    weak_spatial,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    return torch.device(request.param)


def coord_frames(h: int, w: int, t: int = 3) -> Tensor:
    """uint8 (T, 3, H, W) whose pixel values encode their (row, column), so a crop reveals where it came from."""
    y = torch.arange(h).view(h, 1)
    x = torch.arange(w).view(1, w)
    frame = torch.stack([y.expand(h, w), x.expand(h, w), (y * w + x) % 256]).to(torch.uint8)
    return frame.expand(t, 3, h, w).clone()


def crop_origin(crop: Tensor) -> tuple[int, int]:
    """(top, left) of a crop cut from coord_frames."""
    return int(crop[0, 0, 0, 0]), int(crop[0, 1, 0, 0])


def textured_batch(b: int, t: int, size: int, seed: int = 0) -> Tensor:
    """uint8 (B, T, 3, size, size): every clip is the same smooth image repeated over identical frames."""
    g = torch.Generator().manual_seed(seed)
    small = torch.randint(0, 256, (1, 3, 8, 8), generator=g, dtype=torch.uint8)
    image = resize_short_side(small, size)
    return image.expand(b * t, 3, size, size).reshape(b, t, 3, size, size).clone()


def frames_identical(clip: Tensor) -> bool:
    return bool((clip == clip[:1]).all())


# ------------------------------------------------------------------------------------------------ CPU part


@pytest.mark.parametrize(("h", "w", "expected"), [(48, 64, (32, 42)), (64, 48, (42, 32)), (40, 40, (32, 32))])
def test_resize_short_side(h: int, w: int, expected: tuple[int, int]) -> None:
    out = resize_short_side(coord_frames(h, w), 32)
    assert out.dtype == torch.uint8
    assert tuple(out.shape) == (3, 3, *expected)


def test_random_crop_position_is_seeded_and_varies() -> None:
    frames = coord_frames(20, 30)
    origins = {crop_origin(random_crop(frames, 8, torch.Generator().manual_seed(s))) for s in range(20)}
    assert len(origins) > 5
    assert all(0 <= top <= 12 and 0 <= left <= 22 for top, left in origins)
    a = random_crop(frames, 8, torch.Generator().manual_seed(3))
    b = random_crop(frames, 8, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert tuple(a.shape) == (3, 3, 8, 8)
    top, left = crop_origin(a)
    assert torch.equal(a, frames[..., top : top + 8, left : left + 8])


def test_crop_larger_than_frame_raises() -> None:
    with pytest.raises(ValueError, match="cannot crop"):
        random_crop(coord_frames(10, 30), 12)
    with pytest.raises(ValueError, match="cannot crop"):
        center_crop(coord_frames(10, 30), 12)


def test_center_crop() -> None:
    assert crop_origin(center_crop(coord_frames(20, 30), 8)) == (6, 11)


@pytest.mark.parametrize(
    ("h", "w", "origins"),
    [
        (8, 20, [(0, 0), (0, 6), (0, 12)]),
        (20, 8, [(0, 0), (6, 0), (12, 0)]),
        (10, 20, [(1, 0), (1, 6), (1, 12)]),
    ],
)
def test_spatial_crops_three(h: int, w: int, origins: list[tuple[int, int]]) -> None:
    crops = spatial_crops(coord_frames(h, w), 8, 3)
    assert [crop_origin(c) for c in crops] == origins
    assert all(tuple(c.shape) == (3, 3, 8, 8) for c in crops)


def test_spatial_crops_one_is_center_and_bad_count_raises() -> None:
    frames = coord_frames(10, 20)
    (crop,) = spatial_crops(frames, 8, 1)
    assert torch.equal(crop, center_crop(frames, 8))
    with pytest.raises(ValueError, match="num_crops"):
        spatial_crops(frames, 8, 2)


def bar_width(short_side_range: tuple[int, int], seed: int) -> int:
    """Width of a dark vertical bar (1/8 of a 64-pixel frame) after standard_spatial: measures the scale."""
    frame = torch.full((1, 3, 64, 64), 255, dtype=torch.uint8)
    frame[..., 28:36] = 0
    out = standard_spatial(frame, short_side_range, 224, torch.Generator().manual_seed(seed))
    assert tuple(out.shape) == (1, 3, 224, 224)
    return int((out[0, 0, 112] < 128).sum())


def test_standard_spatial_scale_jitter_stays_in_range() -> None:
    widths = [bar_width((256, 320), s) for s in range(16)]
    assert all(256 // 8 - 1 <= w <= 320 // 8 + 1 for w in widths)
    assert len(set(widths)) >= 3
    assert {bar_width((288, 288), s) for s in range(4)} <= {35, 36, 37}


def test_standard_spatial_rejects_range_below_crop() -> None:
    with pytest.raises(ValueError, match="crop"):
        standard_spatial(coord_frames(8, 8), (200, 256), 224)


def test_weak_spatial_is_resize_then_center_crop() -> None:
    frames = coord_frames(48, 64)
    out = weak_spatial(frames, 32, 24)
    assert tuple(out.shape) == (3, 3, 24, 24)
    assert torch.equal(out, resize_short_side(frames, 32)[..., 4:28, 9:33])
    assert torch.equal(out, weak_spatial(frames, 32, 24))


# --------------------------------------------------------------------------------------------- device part


def test_flip_is_per_clip_and_same_for_all_frames(device: torch.device) -> None:
    clips = coord_frames(6, 10, t=4).unsqueeze(0).expand(16, -1, -1, -1, -1).contiguous().to(device)
    torch.manual_seed(0)
    out = ClipAugment().flip(clips)
    assert out.dtype == torch.uint8 and out.shape == clips.shape
    flipped = [bool(torch.equal(o, c.flip(-1))) for o, c in zip(out, clips, strict=True)]
    kept = [bool(torch.equal(o, c)) for o, c in zip(out, clips, strict=True)]
    assert all(f != k for f, k in zip(flipped, kept, strict=True))
    assert any(flipped) and any(kept)


def test_strong_applies_the_same_ops_to_every_frame(device: torch.device) -> None:
    clips = textured_batch(12, 4, 32).to(device)
    torch.manual_seed(0)
    out = ClipAugment().strong(clips)
    assert out.dtype == torch.uint8 and out.shape == clips.shape and out.device == clips.device
    assert all(frames_identical(clip) for clip in out)
    distinct = {tuple(clip[0].flatten().tolist()) for clip in out.cpu()}
    assert len(distinct) > 6
    assert not torch.equal(out, clips)


def test_randaugment_without_ops_is_identity(device: torch.device) -> None:
    clips = textured_batch(2, 2, 16).to(device)
    assert torch.equal(ClipAugment(num_ops=0).randaugment(clips), clips)


def test_cutout_is_one_grey_square_at_the_same_place_in_every_frame(device: torch.device) -> None:
    b, t, size, ratio = 32, 3, 40, 0.5
    clips = torch.full((b, t, 3, size, size), 10, dtype=torch.uint8, device=device)
    torch.manual_seed(0)
    out = ClipAugment(cutout_ratio=ratio).cutout(clips).cpu()
    assert set(out.unique().tolist()) <= {10, GREY}
    boxes = set()
    for clip in out:
        grey = clip == GREY
        assert bool((grey == grey[:1, :1]).all()), "box differs between frames or channels"
        mask = grey[0, 0]
        rows, cols = mask.any(1), mask.any(0)
        assert bool(rows.any())
        assert torch.equal(mask, rows[:, None] & cols[None, :]), "grey region is not a rectangle"
        ys, xs = rows.nonzero().flatten(), cols.nonzero().flatten()
        height, width = len(ys), len(xs)
        assert height <= ratio * size and width <= ratio * size
        inside = ys[0] > 0 and ys[-1] < size - 1 and xs[0] > 0 and xs[-1] < size - 1
        if inside:
            assert height == width
        boxes.add((int(ys[0]), int(xs[0]), height, width))
    assert len(boxes) > b // 2


def test_cutout_ratio_zero_is_identity(device: torch.device) -> None:
    clips = textured_batch(2, 2, 16).to(device)
    assert torch.equal(ClipAugment(cutout_ratio=0.0).cutout(clips), clips)


def test_normalize_layout_and_values(device: torch.device) -> None:
    clips = torch.randint(0, 256, (2, 4, 3, 5, 6), dtype=torch.uint8, device=device)
    clips[0, 0, 0, 0, 0], clips[0, 0, 0, 0, 1] = 0, 255
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    out = ClipAugment(mean=mean, std=std).normalize(clips)
    assert out.dtype == torch.float32 and tuple(out.shape) == (2, 3, 4, 5, 6) and out.is_contiguous()
    expected = (clips.float() / 255 - torch.tensor(mean, device=device).view(3, 1, 1)) / torch.tensor(
        std, device=device
    ).view(3, 1, 1)
    torch.testing.assert_close(out, expected.permute(0, 2, 1, 3, 4))
    assert out[0, 0, 0, 0, 0].item() == pytest.approx(-2.0)
    assert out[0, 0, 0, 0, 1].item() == pytest.approx(3.0)
    default = ClipAugment().normalize(clips)
    assert default[0, 0, 0, 0, 0].item() == pytest.approx(-0.45 / 0.225)
    channels_last = ClipAugment(mean=mean, std=std).normalize(clips, torch.channels_last_3d)
    assert channels_last.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(channels_last, out)


def test_same_seed_same_output(device: torch.device) -> None:
    clips = textured_batch(6, 2, 24).to(device)
    aug = ClipAugment()
    runs = []
    for _ in range(2):
        torch.manual_seed(123)
        runs.append((aug.strong(clips), aug.flip(clips)))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    torch.manual_seed(124)
    assert not torch.equal(aug.strong(clips), runs[0][0])


def test_bad_inputs_raise() -> None:
    aug = ClipAugment()
    with pytest.raises(ValueError, match="uint8"):
        aug.strong(torch.zeros(2, 2, 3, 8, 8))
    with pytest.raises(ValueError, match="uint8"):
        aug.flip(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="channels"):
        aug.normalize(torch.zeros(1, 2, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="magnitude"):
        ClipAugment(magnitude=11)
    with pytest.raises(ValueError, match="cutout_ratio"):
        ClipAugment(cutout_ratio=1.5)


def test_geometry_only_randaugment_moves_a_mask_and_never_recolours_it():
    """``geometry_only``: the op draw of training, colour ops skipped (research/strong_view_survival.py)."""
    torch.manual_seed(0)
    masks = torch.zeros(40, 2, 3, 32, 32, dtype=torch.uint8)
    masks[..., 8:24, 8:24] = 255
    moved = ClipAugment(num_ops=2, magnitude=10, geometry_only=True, fill=0).randaugment(masks)
    assert set(moved.unique().tolist()) <= {0, 255}  # nearest-neighbour moves, nothing recoloured
    assert not torch.equal(moved, masks)  # some clips drew a geometric op
    recoloured = ClipAugment(num_ops=2, magnitude=10).randaugment(masks)
    assert set(recoloured.unique().tolist()) - {0, 127, 255}  # the full space changes values too
