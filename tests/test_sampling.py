"""Frame index sampling: clip windows, paired windows with a bounded time offset, test clip spread."""

from __future__ import annotations

import numpy as np
import pytest

from cmpl.config import SHIPPED_CONFIGS, load_config
from cmpl.data import sampling
from cmpl.data.sampling import ClipSpec, clip_indices, paired_starts

F_SPEC, A_SPEC = ClipSpec(8, 8), ClipSpec(16, 4)  # the paper's 8x8 primary and 16x4 auxiliary inputs


def test_spec_span_and_validation() -> None:
    assert F_SPEC.span == A_SPEC.span == 64
    assert ClipSpec(4, 2).span == 8
    for bad in [(0, 8), (8, 0), (-1, 2)]:
        with pytest.raises(ValueError, match="num_frames"):
            ClipSpec(*bad)


def test_clip_indices_sample_every_stride() -> None:
    np.testing.assert_array_equal(clip_indices(10, F_SPEC, 300), 10 + 8 * np.arange(8))
    np.testing.assert_array_equal(clip_indices(0, A_SPEC, 300), 4 * np.arange(16))
    assert clip_indices(0, F_SPEC, 300).dtype == np.int64


def test_clip_indices_clamp_to_the_video() -> None:
    np.testing.assert_array_equal(clip_indices(0, F_SPEC, 30), [0, 8, 16, 24, 29, 29, 29, 29])
    np.testing.assert_array_equal(clip_indices(-5, ClipSpec(3, 4), 100), [0, 0, 3])
    np.testing.assert_array_equal(clip_indices(7, ClipSpec(3, 4), 1), [0, 0, 0])
    with pytest.raises(ValueError, match="at least one frame"):
        clip_indices(0, F_SPEC, 0)


def _draw(total: int, fps: float, specs: list[ClipSpec], max_offset_s: float, n: int = 400) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.array([paired_starts(total, fps, specs, max_offset_s, rng) for _ in range(n)])


@pytest.mark.parametrize("preset", [None, "demo.yaml", "demo_long.yaml"])
def test_cmpl_recipes_give_the_auxiliary_network_its_own_temporal_location(preset: str | None) -> None:
    """Table 2's third component: by default and in the demo presets, A's window is not F's. Until EVIDENCE e25
    the presets left t_s at 0, and on a demo video (72 frames at 25 fps) A saw F's own window."""
    config = load_config(SHIPPED_CONFIGS / preset if preset else None)
    starts = _draw(72, 25.0, [F_SPEC, A_SPEC], config.data.time_offset_s)
    assert set(starts[:, 1]) == set(range(9))  # every start that keeps A's 64 frames inside the video
    assert (starts[:, 0] != starts[:, 1]).mean() > 0.8  # independent of F's: 8 in 9 differ


@pytest.mark.parametrize("total", [20, 64, 70, 300, 2000])
@pytest.mark.parametrize("max_offset_s", [0.0, 0.3, 1.0, 10.0])
@pytest.mark.parametrize("specs", [[F_SPEC, A_SPEC], [ClipSpec(4, 4), ClipSpec(16, 4), ClipSpec(2, 2)]])
def test_paired_offsets_are_bounded_and_stay_inside(
    total: int, max_offset_s: float, specs: list[ClipSpec]
) -> None:
    fps = 25.0
    starts = _draw(total, fps, specs, max_offset_s)
    reach = int(max_offset_s * fps)
    deltas = starts[:, 1:] - starts[:, :1]
    assert np.abs(deltas).max() <= reach
    assert (starts[:, 0] >= 0).all() and (starts[:, 0] <= max(total - specs[0].span, 0)).all()
    assert (starts >= 0).all()
    for j, spec in enumerate(specs[1:], start=1):
        # inside the video wherever a start within reach allows it, else as close to inside as the bound allows
        fits = starts[:, 0] - reach <= max(total - spec.span, 0)
        assert (starts[fits, j] <= max(total - spec.span, 0)).all()
        assert (starts[~fits, j] == starts[~fits, 0] - reach).all()
    if max_offset_s == 0:
        assert (deltas == 0).all()


def test_zero_offset_gives_identical_starts_even_for_different_spans() -> None:
    starts = _draw(100, 30.0, [ClipSpec(4, 4), ClipSpec(16, 4)], 0.0)
    assert (starts[:, 0] == starts[:, 1]).all()
    assert len(set(starts[:, 0])) > 20  # and the shared start still varies


def test_offsets_cover_their_whole_range() -> None:
    starts = _draw(2000, 25.0, [F_SPEC, A_SPEC], 0.2, n=1000)
    assert set(starts[:, 1] - starts[:, 0]) == set(range(-5, 6))


def test_first_window_is_uniform_over_the_video() -> None:
    starts = _draw(100, 25.0, [F_SPEC, A_SPEC], 1.0, n=2000)[:, 0]
    assert starts.min() == 0 and starts.max() == 36
    counts = np.bincount(starts, minlength=37)
    assert counts.min() > 20  # 2000 draws over 37 values: about 54 each


def test_other_windows_avoid_the_edges_where_they_can() -> None:
    """A first window at the very end must not push the second one past the end."""
    starts = _draw(80, 25.0, [ClipSpec(2, 8), F_SPEC], 2.0, n=500)
    assert starts[:, 0].max() == 80 - 16
    assert (starts[:, 1] <= 80 - 64).all()
    assert (np.abs(starts[:, 1] - starts[:, 0]) <= 50).all()


def test_a_short_video_keeps_the_offset_bound() -> None:
    """No start keeps the second window inside (the video is shorter than it): the offset bound wins."""
    starts = _draw(40, 25.0, [ClipSpec(2, 2), F_SPEC], 0.2, n=200)
    assert (np.abs(starts[:, 1] - starts[:, 0]) <= 5).all()
    assert (starts >= 0).all()


def test_paired_starts_are_deterministic_given_the_generator() -> None:
    a = paired_starts(500, 25.0, [F_SPEC, A_SPEC], 2.0, np.random.default_rng(7))
    b = paired_starts(500, 25.0, [F_SPEC, A_SPEC], 2.0, np.random.default_rng(7))
    assert a == b
    draws = {
        tuple(paired_starts(500, 25.0, [F_SPEC, A_SPEC], 2.0, np.random.default_rng(s))) for s in range(10)
    }
    assert len(draws) > 1


def test_paired_starts_validate_arguments() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError):
        paired_starts(100, 25.0, [], 1.0, rng)
    with pytest.raises(ValueError):
        paired_starts(100, 25.0, [F_SPEC], -1.0, rng)
    with pytest.raises(ValueError):
        paired_starts(100, 0.0, [F_SPEC], 1.0, rng)


def test_test_starts_spread_uniformly_from_start_to_end() -> None:
    starts = sampling.test_starts(300, 64, 10)
    assert len(starts) == 10 and starts[0] == 0 and starts[-1] == 300 - 64
    gaps = np.diff(starts)
    assert gaps.max() - gaps.min() <= 1
    covered = np.unique(np.concatenate([np.arange(s, s + 64) for s in starts]))
    np.testing.assert_array_equal(covered, np.arange(300))  # together the windows see the whole video
    assert sampling.test_starts(300, 64, 10) == starts


def test_test_starts_edge_cases() -> None:
    assert sampling.test_starts(100, 64, 1) == [18]  # one clip: the centre
    assert sampling.test_starts(40, 64, 3) == [0, 0, 0]  # shorter than a window: all at the start
    assert sampling.test_starts(64, 64, 2) == [0, 0]
    with pytest.raises(ValueError, match="num_clips"):
        sampling.test_starts(100, 64, 0)
