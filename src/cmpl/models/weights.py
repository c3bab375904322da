"""``init_from``: a network's starting weights from a local file, its format detected from its keys.

Formats (:data:`FORMATS`), each renamed into cmpl's key layout:

* ``torchvision``: a torchvision video classifier's state dict (``r3d_18``, ``s3d``, ``mvit_v2_s`` ...), or
  ``torchvision:<WEIGHTS_NAME>`` (``torchvision:R3D_18_Weights.KINETICS400_V1``), read from torch's hub cache
  (``torch.hub.get_dir()/checkpoints/``) where torchvision would have downloaded it: cmpl never downloads.
* ``pytorchvideo`` and ``pyslowfast``: a ``.pyth`` checkpoint (``{"model_state": ...}``) of PyTorchVideo's
  ``slow_r50`` / ``slowfast_r50`` (``blocks.N...`` keys) or PySlowFast's SLOW_8x8_R50 / SLOWFAST_8x8_R50
  (``s1.pathway0_stem...`` keys).
* ``imagenet2d``: an ImageNet 2D ResNet in torchvision's layout (``conv1``, ``layer1.0.conv1`` ...; e.g.
  ``torchvision:ResNet50_Weights.IMAGENET1K_V1``) inflated into a 3D-ResNet as I3D and PySlowFast inflate
  it: a kernel of temporal size t gets the 2D weights repeated t times and divided by t, so a clip of
  identical frames gives the 2D network's features (the paper's Table A1 "ImageNet Init").
* ``cmpl``: a cmpl run folder (its ``checkpoints/last.pt``), a cmpl checkpoint, or a network's own state
  dict; ``#primary`` / ``#auxiliary`` after the path picks the network (default: the role being initialised).

The classifier is skipped when its class count differs from the run's; any other shape mismatch, a tensor
the checkpoint lacks or has in excess, a missing file, an unknown format and a pickle that holds more than
tensors each stop with one line (a :class:`WeightsError`). Files are read with ``weights_only=True``.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cmpl.errors import MissingFileError, UserError
from cmpl.models.registry import get_model_entry
from cmpl.models.resnet3d import ResNet3d
from cmpl.models.slowfast import SlowFast
from cmpl.models.torchvision import TorchvisionVideoNet

__all__ = [
    "FORMATS",
    "InitReport",
    "WeightsError",
    "check_source",
    "hub_cache_file",
    "load_pretrained",
    "match_weights",
    "read_weights",
]

FORMATS = {
    "torchvision": "torchvision video classifier state dict, or torchvision:<WEIGHTS_NAME> from torch's hub cache",
    "pytorchvideo": "PyTorchVideo checkpoint (.pyth, model_state with blocks.N keys)",
    "pyslowfast": "PySlowFast checkpoint (.pyth, model_state with s1.pathway0_stem keys)",
    "imagenet2d": "ImageNet 2D ResNet (torchvision layout), inflated to 3D",
    "cmpl": "cmpl run folder, checkpoint or network state dict (#primary / #auxiliary)",
}
HEAD = ("head.weight", "head.bias")
_ROLES = ("primary", "auxiliary")


class WeightsError(UserError):
    """``init_from`` cannot be used: the one line says which file, what is wrong and, where it helps, what
    to do."""


@dataclass
class InitReport:
    """What ``init_from`` did: tensors loaded (cmpl names), tensors skipped and why."""

    source: str
    format: str
    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    parameters: set[str] = field(default_factory=set)  # names of the loaded parameters (not buffers)

    def line(self, role: str = "") -> str:
        who = f"model.{role}.init_from" if role else "init_from"
        text = f"{who}: {len(self.loaded)} tensors loaded from {self.source} ({self.format})"
        if not self.skipped:
            return text + ", none skipped"
        reasons: dict[str, list[str]] = {}
        for key, why in self.skipped.items():
            reasons.setdefault(why, []).append(key)
        parts = [f"{', '.join(keys)} ({why})" for why, keys in reasons.items()]
        return f"{text}; skipped {len(self.skipped)}: {'; '.join(parts)}"


# ------------------------------------------------------------------------------------------ reading
def hub_cache_file(weights_name: str) -> tuple[Path, str, str]:
    """``R3D_18_Weights.KINETICS400_V1`` -> (the file in torch's hub cache, its URL, the model's name)."""
    from torchvision.models import get_weight

    try:
        weights = get_weight(weights_name)
    except (ValueError, KeyError, AttributeError):
        raise WeightsError(
            f"torchvision:{weights_name}: not a torchvision weights name (e.g. R3D_18_Weights.KINETICS400_V1)"
        ) from None
    url = weights.url
    model = type(weights).__name__.removesuffix("_Weights").lower()
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1], url, model


def _torch_load(path: Path, source: str) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)", str(e))
        if found is None:  # not a pickle of torch.save at all
            raise WeightsError(f"{source}: not a readable checkpoint (not a file torch.save wrote)") from None
        raise WeightsError(
            f"{source}: refused: the pickle holds more than tensors (it names {found.group(1)}); save a state "
            "dict of tensors"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        text = str(e).strip()
        reason = text.splitlines()[0].split(". ")[0] if text else type(e).__name__
        raise WeightsError(f"{source}: not a readable checkpoint ({reason})") from None


def _locate(source: str) -> tuple[Path, str | None, str]:
    """The file ``source`` names, the torchvision model its ``torchvision:`` weights belong to, and the
    network a ``#primary`` / ``#auxiliary`` suffix picks ("" for none); a missing file is one line."""
    if source.startswith("torchvision:"):
        path, url, owner = hub_cache_file(source.removeprefix("torchvision:"))
        if not path.is_file():
            raise MissingFileError(
                f"{source}: {path.name} is not in torch's hub cache; download {url} to {path} "
                "(cmpl never downloads)"
            )
        return path, owner, ""
    path_text, _, pick = source.partition("#")
    if pick and pick not in _ROLES:
        raise WeightsError(f"{source}: #{pick}: pick #primary or #auxiliary")
    path = Path(path_text).expanduser()
    if path.is_dir():
        if not (path / "checkpoints" / "last.pt").is_file():
            raise MissingFileError(f"{source}: a folder, but not a cmpl run with checkpoints/last.pt")
        return path / "checkpoints" / "last.pt", None, pick
    if not path.is_file():
        raise MissingFileError(f"{source}: no such file")
    return path, None, pick


def check_source(source: str) -> None:
    """Stop with one line now if ``source`` names no file (before a run writes anything)."""
    _locate(source)


def read_weights(source: str, role: str = "primary") -> tuple[dict[str, torch.Tensor], str, str | None]:
    """The tensors of ``source`` as one flat state dict, its format, and for ``torchvision:`` names the
    torchvision model the weights belong to."""
    path, owner, pick = _locate(source)
    state, fmt = _unwrap(_torch_load(path, source), source, pick or role)
    return state, fmt, owner


def _tensors(values: Any, source: str) -> dict[str, torch.Tensor]:
    if not isinstance(values, Mapping) or not values:
        raise WeightsError(f"{source}: unknown checkpoint format (no state dict of tensors in it)")
    bad = [k for k, v in values.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"{source}: unknown checkpoint format ({bad[0]!r} is not a tensor)")
    return dict(values)


def _unwrap(data: Any, source: str, role: str) -> tuple[dict[str, torch.Tensor], str]:
    """Find the state dict inside a loaded file and tell its format from its keys."""
    if isinstance(data, Mapping) and "method" in data and "config" in data:  # a cmpl checkpoint
        prefix = f"networks.{role}."
        state = {
            k[len(prefix) :]: v for k, v in _tensors(data["method"], source).items() if k.startswith(prefix)
        }
        if not state:
            raise WeightsError(f"{source}: this cmpl run has no {role} network (pick #primary)")
        return state, "cmpl"
    if isinstance(data, Mapping) and "model_state" in data:
        state = _tensors(data["model_state"], source)
        if any(k.startswith("blocks.") for k in state):
            return state, "pytorchvideo"
        if any(k.startswith("s1.") for k in state):
            return state, "pyslowfast"
        raise WeightsError(f"{source}: unknown checkpoint format (model_state keys such as {_first(state)})")
    if isinstance(data, Mapping) and isinstance(data.get("state_dict"), Mapping):
        data = data["state_dict"]
    state = _tensors(data, source)
    if "conv1.weight" in state and "layer1.0.conv1.weight" in state and state["conv1.weight"].ndim == 4:
        return state, "imagenet2d"
    if any(k.startswith(_CMPL_PREFIXES) for k in state):
        return state, "cmpl"
    if any(k.startswith(_TORCHVISION_PREFIXES) for k in state):
        return state, "torchvision"
    raise WeightsError(
        f"{source}: unknown checkpoint format (keys such as {_first(state)}); init_from reads "
        f"{', '.join(FORMATS)} (docs/pretrained.md)"
    )


def _first(state: Mapping[str, Any]) -> str:
    return ", ".join(list(state)[:2])


# cmpl's own networks (3D-ResNets, SlowFast, wrapped torchvision ones); torchvision's video classifiers
_CMPL_PREFIXES = ("net.", "stem.0.0.", "stages.", "slow_stem.", "fast_stem.")
_TORCHVISION_PREFIXES = ("stem.", "features.", "conv_proj.", "patch_embed.", "pos_encoding.")


# ------------------------------------------------------------------------------------------ renaming
def _from_torchvision(key: str, net: nn.Module) -> str:
    assert isinstance(net, TorchvisionVideoNet)
    prefix = net.classifier_key + "."
    return "head." + key[len(prefix) :] if key.startswith(prefix) else "net." + key


_PTV_BLOCK = {"branch1_conv": "shortcut.0", "branch1_norm": "shortcut.1"}
_PTV_BRANCH2 = {f"conv_{x}": f"conv_{x}.0" for x in "abc"} | {f"norm_{x}": f"conv_{x}.1" for x in "abc"}
_PSF_BLOCK = {"branch1": "shortcut.0", "branch1_bn": "shortcut.1"}
_PSF_BRANCH2 = {x: f"conv_{x}.0" for x in "abc"} | {f"{x}_bn": f"conv_{x}.1" for x in "abc"}
_STEM = {"conv": "0.0", "norm": "0.1", "bn": "0.1"}


def _block(rest: str, block_map: Mapping[str, str], branch2_map: Mapping[str, str]) -> str | None:
    """``branch2.conv_a.weight`` -> ``conv_a.0.weight`` (PyTorchVideo) or ``branch2.a_bn.bias`` ->
    ``conv_a.1.bias`` (PySlowFast)."""
    module, _, param = rest.rpartition(".")
    if module.startswith("branch2."):
        name = branch2_map.get(module.removeprefix("branch2."))
    else:
        name = block_map.get(module)
    return f"{name}.{param}" if name else None


def _from_pytorchvideo(key: str, net: nn.Module) -> str | None:
    slowfast = isinstance(net, SlowFast)
    last = 6 if slowfast else 5
    m = re.fullmatch(r"blocks\.(\d+)\.(.+)", key)
    if m is None:
        return None
    index, rest = int(m[1]), m[2]
    if index == last:
        return "head." + rest.removeprefix("proj.") if rest.startswith("proj.") else None
    if slowfast:
        fuse = re.fullmatch(r"multipathway_fusion\.(conv_fast_to_slow|norm)\.(.+)", rest)
        if fuse:
            return f"fusions.{index}.conv.{0 if fuse[1] == 'conv_fast_to_slow' else 1}.{fuse[2]}"
        path = re.fullmatch(r"multipathway_blocks\.([01])\.(.+)", rest)
        if path is None:
            return None
        pathway, rest = ("slow", "fast")[int(path[1])], path[2]
        stem, stages = f"{pathway}_stem", f"{pathway}_stages"
    else:
        stem, stages = "stem", "stages"
    if index == 0:
        module, _, param = rest.rpartition(".")
        return f"{stem}.{_STEM[module]}.{param}" if module in ("conv", "norm") else None
    res = re.fullmatch(r"res_blocks\.(\d+)\.(.+)", rest)
    if res is None or not 1 <= index <= 4:
        return None
    tail = _block(res[2], _PTV_BLOCK, _PTV_BRANCH2)
    return f"{stages}.{index - 1}.{res[1]}.{tail}" if tail else None


def _from_pyslowfast(key: str, net: nn.Module) -> str | None:
    slowfast = isinstance(net, SlowFast)
    if key.startswith("head.projection."):
        return "head." + key.removeprefix("head.projection.")
    fuse = re.fullmatch(r"s([1-4])_fuse\.(conv_f2s|bn)\.(.+)", key)
    if fuse and slowfast:
        return f"fusions.{int(fuse[1]) - 1}.conv.{0 if fuse[2] == 'conv_f2s' else 1}.{fuse[3]}"
    m = re.fullmatch(r"s(\d)\.pathway([01])_(stem|res(\d+))\.(.+)", key)
    if m is None or (m[2] == "1" and not slowfast):
        return None
    prefix = ("slow_", "fast_")[int(m[2])] if slowfast else ""
    stage, rest = int(m[1]), m[5]
    if m[3] == "stem":
        module, _, param = rest.rpartition(".")
        return f"{prefix}stem.{_STEM[module]}.{param}" if stage == 1 and module in ("conv", "bn") else None
    if not 2 <= stage <= 5:
        return None
    tail = _block(rest, _PSF_BLOCK, _PSF_BRANCH2)
    return f"{prefix}stages.{stage - 2}.{m[4]}.{tail}" if tail else None


_TV2D_BLOCK = {
    "conv1": "conv_a.0",
    "bn1": "conv_a.1",
    "conv2": "conv_b.0",
    "bn2": "conv_b.1",
    "conv3": "conv_c.0",
    "bn3": "conv_c.1",
    "downsample.0": "shortcut.0",
    "downsample.1": "shortcut.1",
}


def _from_imagenet2d(key: str, net: nn.Module) -> str | None:
    if key.startswith("fc."):
        return "head." + key.removeprefix("fc.")
    module, _, param = key.rpartition(".")
    if module in ("conv1", "bn1"):
        return f"stem.{_STEM['conv' if module == 'conv1' else 'bn']}.{param}"
    m = re.fullmatch(r"layer([1-4])\.(\d+)\.(.+)", module)
    if m is None or m[3] not in _TV2D_BLOCK:
        return None
    return f"stages.{int(m[1]) - 1}.{m[2]}.{_TV2D_BLOCK[m[3]]}.{param}"


def _inflate(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A 2D kernel (O, I, kh, kw) as a 3D one (O, I, t, kh, kw): repeated over time and divided by t."""
    if value.ndim == 4 and target.ndim == 5 and value.shape == target.shape[:2] + target.shape[3:]:
        t = target.shape[2]
        return value.unsqueeze(2).repeat(1, 1, t, 1, 1) / t
    return value


_RENAME: dict[str, Callable[[str, nn.Module], str | None]] = {
    "torchvision": _from_torchvision,
    "pytorchvideo": _from_pytorchvideo,
    "pyslowfast": _from_pyslowfast,
    "imagenet2d": _from_imagenet2d,
    "cmpl": lambda key, net: key,
}
_NETWORK_KINDS = {  # which cmpl networks each format's renaming can fill
    "torchvision": (TorchvisionVideoNet,),
    "pytorchvideo": (ResNet3d, SlowFast),
    "pyslowfast": (ResNet3d, SlowFast),
    "imagenet2d": (ResNet3d,),
    "cmpl": (nn.Module,),
}


# ------------------------------------------------------------------------------------------ loading
def load_pretrained(
    net: nn.Module, source: str, name: str | None = None, role: str = "primary"
) -> InitReport:
    """Load ``source`` (see the module docstring) into ``net`` (the registered network ``name``) in place;
    the classifier is skipped when its class count differs. Returns what was loaded and skipped."""
    state, fmt, owner = read_weights(source, role)
    renamed, report = match_weights(state, fmt, net, name, source, owner)
    own = net.state_dict()
    with torch.no_grad():
        for key in report.loaded:
            own[key].copy_(renamed[key])
    return report


def match_weights(
    state: Mapping[str, torch.Tensor],
    fmt: str,
    net: nn.Module,
    name: str | None = None,
    source: str = "init_from",
    owner: str | None = None,
) -> tuple[dict[str, torch.Tensor], InitReport]:
    """``state`` (in format ``fmt``) renamed, inflated and checked against ``net``, without copying: the
    tensors by cmpl name and the report. Works on the meta device (shapes only)."""
    label = name or type(net).__name__
    if name is not None and fmt != "cmpl":
        formats = get_model_entry(name).formats
        if fmt not in formats:
            raise WeightsError(
                f"{source}: {fmt} weights; {name} loads {', '.join(formats)} (docs/pretrained.md)"
            )
    if owner is not None and name is not None and fmt == "torchvision" and owner != name:
        raise WeightsError(f"{source}: weights of torchvision's {owner}, not of {name}")
    if not isinstance(net, _NETWORK_KINDS[fmt]):
        raise WeightsError(f"{source}: {fmt} weights do not fit {label}")
    own = net.state_dict()
    rename = _RENAME[fmt]
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        target = rename(key, net)
        if target is None or target not in own:
            raise WeightsError(f"{source}: {key} has no place in {label} ({fmt} weights)")
        if fmt == "imagenet2d":
            value = _inflate(value, own[target])
        if fmt == "torchvision" and target == "head.weight" and value.ndim == 5:  # s3d's 1x1x1 conv
            value = value.flatten(1)
        renamed[target] = value
    report = InitReport(source, fmt)
    for key, value in renamed.items():
        if key in HEAD and value.shape != own[key].shape:
            have, want = value.shape[0], own[key].shape[0]
            report.skipped[key] = f"{have} classes in the checkpoint, {want} here: a new classifier"
            continue
        if value.shape != own[key].shape:
            raise WeightsError(
                f"{source}: {key}: shape {tuple(value.shape)} in the checkpoint, {tuple(own[key].shape)} in {label}"
            )
        report.loaded.append(key)
    missing = [k for k in own if k not in renamed and k not in HEAD]
    counters = [k for k in missing if k.endswith("num_batches_tracked")]
    missing = [k for k in missing if k not in counters]
    if missing:
        raise WeightsError(
            f"{source}: the checkpoint lacks {len(missing)} of {label}'s tensors, e.g. {missing[0]}"
        )
    for key in counters:
        report.skipped[key] = "not in the checkpoint, kept"
    for key in HEAD:
        if key not in renamed:
            report.skipped[key] = "not in the checkpoint: a new classifier"
    params = {n for n, _ in net.named_parameters()}
    report.parameters = {k for k in report.loaded if k in params}
    return renamed, report
