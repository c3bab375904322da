"""Embedded, procedurally rendered action videos for `cmpl demo` and for tests.

The classes embody the paper's premise that a big spatial model and a small model on a faster frame rate
see different things: some class groups differ *only* in motion (direction, speed, oscillation vs drift,
rotation sense), others *only* in appearance (shape, texture). Everything else (colours, size, position,
background clutter and its motion, a distractor, camera jitter, pixel noise) is a per-video nuisance drawn
from the seed. The videos are written as real H.264 files so that they travel the normal decoding path.

Rendering is analytic (signed distance fields on coordinate grids, 1-pixel anti-aliasing), vectorised over
all frames at once. Each random factor has its own child generator, so two classes rendered with the same
seed share every nuisance and every shared motion draw; motion classes are anchored at frame
``num_frames // 2``, where paired motion classes show identical frames (see :func:`render_video`).

Two versions ship, chosen by name (``make_synthetic(version=...)``, ``data.synthetic_version``):

* ``v2``, the demo's since 0.1: seven motion classes and five appearance classes (:data:`SYNTHETIC_CLASSES`).
* ``v3`` models the paper's Fig. 1 by design: four *tempo* classes whose motion a clip of 8 frames at stride 8
  (F's) aliases and one of 16 frames at stride 4 (A's) resolves (a clock hand turning a quarter turn every 4
  frames, clockwise or anticlockwise, shows a half turn every 8 frames either way; a ring shaking back and
  forth every 4 frames stands still at every 8th frame, like one that holds still), two motion classes
  both frame rates resolve, and six appearance classes (shape or texture) that any frame shows and a network's
  width serves (:data:`SYNTHETIC_VERSIONS`).

Note: ``rotate_cw``/``rotate_ccw`` (and ``spin_cw``/``spin_ccw``) swap under a horizontal flip, so train on
this data without flips. The translation directions are vertical (and the speed classes move left or right at
random) so that the other classes are flip invariant.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cmpl.data.annotations import VideoRecord, write_class_names, write_path_label_list
from cmpl.data.encode import write_video
from cmpl.data.workers import run_jobs
from cmpl.errors import BadValueError

__all__ = [
    "SYNTHETIC_CLASSES",
    "SYNTHETIC_CLASS_GROUPS",
    "SYNTHETIC_VERSIONS",
    "make_synthetic",
    "render_video",
    "render_video_with_mask",
    "synthetic_class_groups",
]

_MOTION_CLASSES: list[str] = [
    "move_up",
    "move_down",
    "oscillate",
    "slide_slow",
    "slide_fast",
    "rotate_cw",
    "rotate_ccw",
]
"""Classes told apart only by how the object moves (ring object, or a clock hand for rotation)."""

_MOTION_PAIRS: list[tuple[str, str]] = [
    ("move_up", "move_down"),
    ("slide_slow", "slide_fast"),
    ("rotate_cw", "rotate_ccw"),
]
"""Motion classes rendered as twins: from one seed they show the same object, identical at the anchor frame."""

_APPEARANCE_CLASSES: list[str] = ["circle", "square", "triangle", "stripes", "checker"]
"""Classes told apart only by the object's look; all share one class-independent wandering motion."""

SYNTHETIC_CLASSES: list[str] = _MOTION_CLASSES + _APPEARANCE_CLASSES
"""The class names in label order: seven motion classes, then five appearance classes."""

_TEMPO_PAIRS: list[tuple[str, str]] = [("spin_cw", "spin_ccw"), ("shake", "hold")]
"""v3's twins that only A's stride tells apart: identical in distribution on every 8th frame."""

_TEMPO_CLASSES: list[str] = [name for pair in _TEMPO_PAIRS for name in pair]

_V3_APPEARANCE_CLASSES: list[str] = [*_APPEARANCE_CLASSES, "dots"]
"""v3's appearance classes: v2's five and a grid of dots."""

_SPIN_RATE = math.pi / 8  # rad/frame: a quarter turn per 4 frames, a half turn (either way) per 8
_SHAKE_PERIOD = 8  # frames: a square wave, so every 4th frame lands on the other side, every 8th on the same

SYNTHETIC_VERSIONS: dict[str, list[str]] = {
    "v2": SYNTHETIC_CLASSES,
    "v3": [
        *_TEMPO_CLASSES,
        "move_up",
        "move_down",
        *_V3_APPEARANCE_CLASSES,
    ],
}
"""The generator's versions by name, each with its class names in label order."""

_CLASS_GROUPS: dict[str, dict[str, list[str]]] = {
    "v2": {
        "motion": _MOTION_CLASSES,
        "appearance": _APPEARANCE_CLASSES,
        **{f"{a}/{b}": [a, b] for a, b in _MOTION_PAIRS},
    },
    "v3": {
        "tempo": _TEMPO_CLASSES,
        "motion": ["move_up", "move_down"],
        "appearance": _V3_APPEARANCE_CLASSES,
        **{f"{a}/{b}": [a, b] for a, b in _TEMPO_PAIRS},
    },
}

SYNTHETIC_CLASS_GROUPS: dict[str, list[str]] = _CLASS_GROUPS["v2"]
"""Kinds of class, for reading where a network is right (Fig. 1 per group): motion, appearance, each twin pair."""


def synthetic_class_groups(class_names: Sequence[str]) -> dict[str, list[str]]:
    """The kinds of class of the version whose class list ``class_names`` is (v3: tempo, motion, appearance
    and the tempo twins); an error for another dataset's classes."""
    for version, names in SYNTHETIC_VERSIONS.items():
        if list(class_names) == names:
            return _CLASS_GROUPS[version]
    raise BadValueError("--groups synthetic: the runs were not trained on a synthetic version's classes")


_VERSION = 2  # bump when rendering changes so that cached datasets are regenerated
_REFERENCE_SIZE = 40.0  # lengths and speeds below are in pixels of a 40x40 frame and scale with `size`
# Constant QP and one thread give byte-identical files: with crf, x264's SIMD macroblock-tree rate control
# varied the output from run to run (and with what the process had encoded before).
_X264_OPTIONS = {"qp": "20", "preset": "veryfast", "threads": "1"}

Array = np.ndarray


@dataclass(frozen=True)
class _Scene:
    """Shared geometry of one video: pixel-centre grids and the time axis relative to the anchor."""

    size: int
    num_frames: int
    anchor: int
    scale: float  # size / 40
    x: Array  # (1, H, W) column coordinate
    y: Array  # (1, H, W) row coordinate
    t: Array  # (T,) frame index minus anchor

    @property
    def lo(self) -> float:
        """Motion classes keep the object centre within [lo, hi], so that random crops rarely cut it off."""
        return 0.18 * self.size

    @property
    def hi(self) -> float:
        return 0.82 * self.size


def _scene(size: int, num_frames: int) -> _Scene:
    grid = np.arange(size, dtype=np.float32)
    anchor = num_frames // 2
    return _Scene(
        size=size,
        num_frames=num_frames,
        anchor=anchor,
        scale=size / _REFERENCE_SIZE,
        x=grid[None, None, :],
        y=grid[None, :, None],
        t=np.arange(num_frames, dtype=np.float32) - anchor,
    )


def _lerp(u: float | Array, lo: float, hi: float) -> float | Array:
    return lo + u * (hi - lo)


def _fold(p: Array, lo: float, hi: float) -> Array:
    """Reflect positions into [lo, hi]: an object that reaches a wall bounces back."""
    span = hi - lo
    q = np.mod(p - lo, 2 * span)
    return lo + np.where(q > span, 2 * span - q, q)


def _wander(
    rng: np.random.Generator, t: Array, amplitude: tuple[float, float], period: tuple[float, float]
) -> Array:
    """Smooth random 1-D path: a sum of two slow sinusoids with random amplitude, period and phase."""
    a = rng.uniform(*amplitude, size=2)
    p = rng.uniform(*period, size=2)
    phi = rng.uniform(0, 2 * np.pi, size=2)
    return (a[:, None] * np.sin(2 * np.pi * t[None, :] / p[:, None] + phi[:, None])).sum(0).astype(np.float32)


def _rgb(lum: float, sat: float, hue: float) -> Array:
    """A colour of roughly the given luminance: luminance plus a zero-mean hue vector."""
    offsets = np.cos(2 * np.pi * (hue - np.array([0.0, 1 / 3, 2 / 3])))
    return np.clip(lum + 0.5 * sat * offsets, 0.0, 1.0).astype(np.float32)


def _alpha(sd: Array) -> Array:
    """Coverage from a signed distance (negative inside), anti-aliased over one pixel."""
    return np.clip(0.5 - sd, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------- nuisances


@dataclass(frozen=True)
class _Palette:
    background: Array
    tint: Array
    object: Array
    pattern: Array  # second colour of stripes/checker, same hue as `object`
    distractor: Array


def _palette(rng: np.random.Generator) -> _Palette:
    """Colours with a guaranteed luminance gap between object and background (dark or light scenes)."""
    u = rng.random(9).tolist()
    dark = u[0] < 0.75
    bg_lum = _lerp(u[1], 0.12, 0.4) if dark else _lerp(u[1], 0.6, 0.85)
    gap = _lerp(u[2], 0.35, 0.55)
    obj_lum = min(bg_lum + gap, 0.95) if dark else max(bg_lum - gap, 0.05)
    pattern_lum = obj_lum - 0.35 if obj_lum > 0.5 else obj_lum + 0.35
    hue = u[3]
    return _Palette(
        background=_rgb(bg_lum, _lerp(u[4], 0.0, 0.3), u[5]),
        tint=_rgb(1.0, 0.4, u[6]),
        object=_rgb(obj_lum, _lerp(u[7], 0.3, 0.7), hue),
        pattern=_rgb(pattern_lum, _lerp(u[7], 0.3, 0.7), hue),
        distractor=_rgb(_lerp(u[8], 0.1, 0.9), 0.5, (hue + 0.5) % 1.0),
    )


def _background(rng: np.random.Generator, sc: _Scene, pal: _Palette, jx: Array, jy: Array) -> Array:
    """Static clutter (smooth noise texture and soft blobs) that pans slowly: (T, H, W, 3) float.

    Both layers are separable in x and y, so each frame is a small matrix product instead of
    transcendental functions over every pixel.
    """
    pan_angle, pan_speed = rng.uniform(0, 2 * np.pi), rng.uniform(0.0, 0.08) * sc.scale
    x = sc.x[0] - (pan_speed * math.cos(pan_angle) * sc.t + jx)[:, None, None]  # (T, 1, W) background coords
    y = sc.y[0] - (pan_speed * math.sin(pan_angle) * sc.t + jy)[:, None, None]  # (T, H, 1)
    # texture: sum_k a_k sin(fx_k x + fy_k y + phi_k) = sum_k a_k (sin(fx x) cos(fy y + phi) + cos(..) sin(..))
    k = 6
    freq, theta = rng.uniform(0.15, 0.6, size=k) / sc.scale, rng.uniform(0, 2 * np.pi, size=k)  # float64
    phase, amp = rng.uniform(0, 2 * np.pi, size=k), rng.uniform(0.02, 0.05, size=k)
    ax = x.transpose(0, 2, 1) * (freq * np.cos(theta)).astype(np.float32)  # (T, W, K)
    by = y * (freq * np.sin(theta)).astype(np.float32) + phase.astype(np.float32)  # (T, H, K)
    amp = amp.astype(np.float32)
    left = np.concatenate([amp * np.cos(by), amp * np.sin(by)], axis=2)  # (T, H, 2K)
    right = np.concatenate([np.sin(ax), np.cos(ax)], axis=2).transpose(0, 2, 1)  # (T, 2K, W)
    frames = pal.background + (left @ right)[..., None] * pal.tint
    # blobs: exp(-(dx^2 + dy^2) / 2s^2) = exp(-dx^2 / 2s^2) exp(-dy^2 / 2s^2), one matrix product per channel
    n = int(rng.integers(3, 7))
    cx, cy = rng.uniform(0, sc.size, size=(2, n)).astype(np.float32)
    sigma = (rng.uniform(2.0, 5.0, size=n) * sc.scale).astype(np.float32)
    colour = rng.uniform(-0.06, 0.06, size=(n, 3)).astype(np.float32)
    ex = np.exp(-((x.transpose(0, 2, 1) - cx) ** 2) / (2 * sigma**2)).transpose(0, 2, 1)  # (T, n, W)
    ey = np.exp(-((y - cy) ** 2) / (2 * sigma**2))  # (T, H, n)
    for c in range(3):
        frames[..., c] += (ey * colour[:, c]) @ ex
    return frames


def _distractor(rng: np.random.Generator, sc: _Scene, x: Array, y: Array) -> Array:
    """Alpha (T, H, W) of a soft blob that drifts and wanders at random, bouncing off the borders."""
    speed, angle = rng.uniform(0.1, 0.5) * sc.scale, rng.uniform(0, 2 * np.pi)
    start = rng.uniform(0, sc.size, size=2).tolist()
    wander = (3 * sc.scale, 6 * sc.scale), (20.0, 60.0)
    cx = _fold(start[0] + speed * math.cos(angle) * sc.t + _wander(rng, sc.t, *wander), 1, sc.size - 2)
    cy = _fold(start[1] + speed * math.sin(angle) * sc.t + _wander(rng, sc.t, *wander), 1, sc.size - 2)
    sigma, strength = rng.uniform(1.0, 1.8) * sc.scale, rng.uniform(0.25, 0.45)
    d2 = (x - cx[:, None, None]) ** 2 + (y - cy[:, None, None]) ** 2
    return strength * np.exp(-d2 / (2 * sigma**2))


# ---------------------------------------------------------------------------------------------- object


@dataclass(frozen=True)
class _Motion:
    """Object centre per frame and, for the clock hand, its angle per frame (radians, y axis down)."""

    cx: Array
    cy: Array
    angle: Array | None = None


def _motion(name: str, u: list[float], rng: np.random.Generator, sc: _Scene) -> _Motion:
    """Class motion from shared uniforms `u`, so that paired classes differ only in the class rule."""
    t, s, lo, hi = sc.t, sc.scale, sc.lo, sc.hi
    reach = float(max(sc.anchor, sc.num_frames - 1 - sc.anchor))
    along = np.full_like(t, _lerp(u[2], lo, hi))  # fixed coordinate across the motion axis
    if name in ("move_up", "move_down"):
        v = _lerp(u[0], 0.2, 0.35) * s
        ext = min(v * reach, (hi - lo) / 2)
        sign = -1.0 if name == "move_up" else 1.0
        return _Motion(along, _lerp(u[1], lo + ext, hi - ext) + sign * v * t)
    if name == "oscillate":
        amp, period = _lerp(u[0], 4.0, 7.0) * s, _lerp(u[3], 12.0, 24.0)
        sign = 1.0 if u[4] < 0.5 else -1.0
        return _Motion(along, _lerp(u[1], lo + amp, hi - amp) + sign * amp * np.sin(2 * np.pi * t / period))
    if name in ("slide_slow", "slide_fast"):
        v = _lerp(u[0], 0.12, 0.22) if name == "slide_slow" else _lerp(u[0], 0.45, 0.65)
        sign = 1.0 if u[4] < 0.5 else -1.0
        return _Motion(_fold(_lerp(u[1], lo, hi) + sign * v * s * t, lo, hi), along)
    if name in ("rotate_cw", "rotate_ccw", "spin_cw", "spin_ccw"):
        if name.startswith("rotate"):  # rad/frame: smooth at stride 4, coarse (up to 1.8 rad) at stride 8
            omega = _lerp(u[0], 0.1, 0.22)
        else:  # spread symmetrically about pi/8, so that at stride 8 cw and ccw alias alike
            omega = _lerp(u[0], _SPIN_RATE - 0.04, _SPIN_RATE + 0.04)
        sign = 1.0 if name.endswith("_cw") else -1.0  # with y pointing down, increasing angle is clockwise
        pivot = _lerp(u[1], 0.3, 0.7) * sc.size, _lerp(u[2], 0.3, 0.7) * sc.size
        return _Motion(
            np.full_like(t, pivot[0]), np.full_like(t, pivot[1]), 2 * np.pi * u[3] + sign * omega * t
        )
    # appearance classes, shake and hold: one class-independent slow wandering path
    path = (1.5 * s, 4.0 * s), (50.0, 120.0)
    cx = _lerp(u[1], 0.3, 0.7) * sc.size + _wander(rng, t, *path)
    cy = _lerp(u[2], 0.3, 0.7) * sc.size + _wander(rng, t, *path)
    if name == "shake":  # +-amp, switching every half period: a stride of 8 frames sees one side only
        side = np.where(
            np.mod(t + np.floor(u[4] * _SHAKE_PERIOD), _SHAKE_PERIOD) < _SHAKE_PERIOD / 2, 1.0, -1.0
        )
        amp, axis = _lerp(u[0], 2.0, 3.0) * s, 2 * np.pi * u[3]
        cx, cy = cx + amp * math.cos(axis) * side, cy + amp * math.sin(axis) * side
    return _Motion(cx.astype(np.float32), cy.astype(np.float32))


def _object(name: str, u: list[float], mo: _Motion, x: Array, y: Array, sc: _Scene) -> tuple[Array, Array]:
    """Object alpha (T, H, W) and its blend weight between the two palette colours (1 = pattern)."""
    r = _lerp(u[0], 6.5, 9.5) * sc.scale
    orientation = 2 * np.pi * u[1]
    dx, dy = x - mo.cx[:, None, None], y - mo.cy[:, None, None]
    zero = np.zeros((1, 1, 1), dtype=np.float32)
    if name in ("rotate_cw", "rotate_ccw", "spin_cw", "spin_ccw"):
        return _alpha(_clock_hand(dx, dy, mo.angle[:, None, None], r)), zero
    if name in _MOTION_CLASSES or name in ("shake", "hold"):
        width = max(0.38 * r, 2.0 * sc.scale)
        return _alpha(np.abs(np.hypot(dx, dy) - (r - width / 2)) - width / 2), zero
    c, s = math.cos(orientation), math.sin(orientation)
    ax, ay = c * dx + s * dy, -s * dx + c * dy  # object-centred, rotated coordinates
    if name == "square":
        return _alpha(np.maximum(np.abs(ax), np.abs(ay)) - r * math.sqrt(math.pi) / 2), zero  # same area
    if name == "triangle":
        inradius = r * math.sqrt(math.pi / (3 * math.sqrt(3)))  # equilateral triangle of the circle's area
        edges = [math.cos(k * 2 * math.pi / 3) * ax + math.sin(k * 2 * math.pi / 3) * ay for k in range(3)]
        return _alpha(np.maximum.reduce(edges) - inradius), zero
    disc = _alpha(np.hypot(dx, dy) - r)
    if name == "circle":
        return disc, zero
    k = 2 * np.pi / (_lerp(u[2], 7.0, 9.0) * sc.scale)  # stripe period / twice the checker cell
    if name == "dots":  # a square grid of round spots, as wide as a stripe
        return disc, np.clip(1.5 * (np.cos(k * ax) + np.cos(k * ay)) - 1.0, 0.0, 1.0)
    wave = np.sin(k * ax) if name == "stripes" else 2.0 * np.sin(k * ax) * np.sin(k * ay)
    return disc, np.clip(0.5 + 1.5 * wave, 0.0, 1.0)


def _clock_hand(dx: Array, dy: Array, angle: Array, r: float) -> Array:
    """Signed distance to a lollipop-shaped clock hand (thin bar, round tip): no rotational symmetry."""
    length = 1.5 * r
    ux, uy = np.cos(angle), np.sin(angle)
    along = np.clip(dx * ux + dy * uy, 0.0, length)
    bar = np.hypot(dx - along * ux, dy - along * uy) - 0.2 * r
    tip = np.hypot(dx - length * ux, dy - length * uy) - 0.5 * r
    return np.minimum(bar, tip)


# ---------------------------------------------------------------------------------------------- public


def render_video(
    class_name: str, seed: int | Sequence[int], *, size: int = 40, num_frames: int = 72
) -> Array:
    """Render one video as uint8 RGB frames (T, H, W, 3) (see :func:`render_video_with_mask`)."""
    return render_video_with_mask(class_name, seed, size=size, num_frames=num_frames)[0]


def render_video_with_mask(
    class_name: str, seed: int | Sequence[int], *, size: int = 40, num_frames: int = 72
) -> tuple[Array, Array]:
    """Render one video as uint8 RGB frames (T, H, W, 3) and the class object's alpha (T, H, W) in [0, 1],
    which says where the thing that defines the class is (e.g. to measure what an augmentation leaves of it).

    Every random factor draws from its own child of ``np.random.SeedSequence(seed)``, so two classes
    rendered with the same seed share all nuisances. Consequences the tests rely on: classes of one motion
    group ({move_up, move_down}, {slide_slow, slide_fast}, {rotate_cw, rotate_ccw}) show the identical frame
    at ``num_frames // 2``, and appearance classes share their trajectory and differ only where the object is.
    """
    known = {name for names in SYNTHETIC_VERSIONS.values() for name in names}
    if class_name not in known:
        raise ValueError(f"unknown synthetic class {class_name!r}; expected one of {sorted(known)}")
    sc = _scene(size, num_frames)
    colour_rng, jitter_rng, bg_rng, distractor_rng, motion_rng, shape_rng, noise_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)
    )
    pal = _palette(colour_rng)
    jitter = (0.0, 0.25 * sc.scale), (6.0, 30.0)
    jx, jy = _wander(jitter_rng, sc.t, *jitter), _wander(jitter_rng, sc.t, *jitter)
    x, y = sc.x - jx[:, None, None], sc.y - jy[:, None, None]  # camera shake moves the whole scene

    frames = _background(bg_rng, sc, pal, jx, jy)
    d_alpha = _distractor(distractor_rng, sc, x, y)[..., None]
    frames -= d_alpha * (frames - pal.distractor)
    motion = _motion(class_name, motion_rng.random(5).tolist(), motion_rng, sc)
    o_alpha, pattern = _object(class_name, shape_rng.random(3).tolist(), motion, x, y, sc)
    colour = pal.object + pattern[..., None] * (pal.pattern - pal.object)
    frames -= o_alpha[..., None] * (frames - colour)
    noise = noise_rng.standard_normal(frames.shape, dtype=np.float32)
    noise *= 255 * noise_rng.uniform(0.0025, 0.0125)
    frames *= 255
    frames += noise
    frames += 0.5  # round to nearest on the truncating cast below
    return np.clip(frames, 0, 255, out=frames).astype(np.uint8), o_alpha


@dataclass(frozen=True)
class _Job:
    path: Path
    class_name: str
    seed: tuple[int, ...]
    size: int
    num_frames: int
    fps: int


def _render_and_write(job: _Job) -> None:
    frames = render_video(job.class_name, job.seed, size=job.size, num_frames=job.num_frames)
    write_video(job.path, frames, job.fps, format="mp4", options=_X264_OPTIONS)


def _settings_match(root: Path, settings: dict[str, object]) -> bool:
    meta = root / "synthetic.json"
    if not ((root / "train.txt").is_file() and meta.is_file()):
        return False
    try:
        return json.loads(meta.read_text()) == settings
    except (OSError, ValueError):
        return False


def make_synthetic(
    root: Path,
    *,
    train_per_class: int = 60,
    test_per_class: int = 20,
    size: int = 40,
    num_frames: int = 72,
    fps: int = 25,
    seed: int = 0,
    version: str = "v2",
    progress: bool = False,
    workers: int | None = None,
) -> Path:
    """Write the synthetic dataset under `root` and return `root`.

    Layout: ``videos/<class>/<split>_<i>.mp4``, ``classes.txt``, ``train.txt`` and ``test.txt``
    ("videos/<class>/<id>.mp4 <label>" lines) and ``synthetic.json`` (the settings, written last so that it
    marks a complete dataset). When the settings match an existing dataset nothing is done; otherwise a
    previous synthetic ``videos/`` folder is replaced. Video ``i`` of class ``c`` in split ``s`` (0 train,
    1 test) is ``render_video(SYNTHETIC_VERSIONS[version][c], (seed, s, c, i))``, so the output is byte-identical for
    any number of `workers` (processes; default or 0: the usable CPUs, at most 8).
    """
    root = Path(root)
    if size < 16 or size % 2:
        raise ValueError(f"size must be an even number >= 16, got {size}")
    if num_frames < 1 or fps < 1 or min(train_per_class, test_per_class, seed) < 0:
        raise ValueError("num_frames and fps must be >= 1; per-class counts and seed >= 0")
    if version not in SYNTHETIC_VERSIONS:
        raise ValueError(f"unknown synthetic version {version!r}; expected one of {list(SYNTHETIC_VERSIONS)}")
    class_names = SYNTHETIC_VERSIONS[version]
    settings: dict[str, object] = {
        "version": _VERSION,
        "classes": class_names,
        "train_per_class": train_per_class,
        "test_per_class": test_per_class,
        "size": size,
        "num_frames": num_frames,
        "fps": fps,
        "seed": seed,
    }
    if _settings_match(root, settings):
        return root
    if (root / "synthetic.json").is_file() and (root / "videos").is_dir():
        shutil.rmtree(root / "videos")  # stale dataset of other settings: never mix old and new videos
    (root / "synthetic.json").unlink(missing_ok=True)

    jobs: list[_Job] = []
    records: dict[str, list[VideoRecord]] = {"train": [], "test": []}
    for split_id, (split, count) in enumerate((("train", train_per_class), ("test", test_per_class))):
        for label, name in enumerate(class_names):
            (root / "videos" / name).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                rel = f"videos/{name}/{split}_{i:04d}.mp4"
                jobs.append(_Job(root / rel, name, (seed, split_id, label, i), size, num_frames, fps))
                records[split].append(VideoRecord(root / rel, label))
    run_jobs(
        _render_and_write,
        jobs,
        workers,
        desc="synthetic videos",
        unit="video",
        progress=progress,
        chunksize=8,
        max_default=8,
    )

    write_class_names(class_names, root / "classes.txt")
    for split in ("test", "train"):
        write_path_label_list(records[split], root / f"{split}.txt", root)
    (root / "synthetic.json").write_text(json.dumps(settings, indent=2) + "\n")
    return root
