"""Checkpoints that survive a crash or a full disk mid-write and load without executing pickled code."""

from __future__ import annotations

import os
import pickle
import random
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cmpl.errors import CheckpointError, MissingFileError

__all__ = ["keep_recent", "load_checkpoint", "restore_rng_state", "rng_state", "save_checkpoint"]


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write to a temporary file in the same folder, then rename: a reader never sees half a checkpoint,
    and a write that fails (a full disk) leaves the file that was there untouched."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise CheckpointError(
            f"{path}: checkpoint not written ({e.strerror or e}); the checkpoint there before, if any, is "
            "intact: free space or fix the folder, then --resume"
        ) from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def keep_recent(last: Path, iteration: int, keep: int) -> None:
    """Hard-link ``last`` as ``iter_<iteration>.pt`` and delete all but the ``keep`` newest such links
    (``keep`` = 1: ``last`` alone)."""
    if keep <= 1:
        return
    link = last.with_name(f"iter_{iteration:08d}.pt")
    link.unlink(missing_ok=True)
    os.link(last, link)
    for old in sorted(last.parent.glob("iter_*.pt"))[:-keep]:
        old.unlink()


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load tensors and plain containers only (``weights_only=True``): a file that would run code when
    unpickled is refused in one line that names it and what it holds."""
    if not path.is_file():
        raise MissingFileError(f"{path}: no checkpoint there")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)", str(e))
        what = f"it names {found.group(1)}" if found else "it holds more than tensors and plain containers"
        raise CheckpointError(
            f"{path}: refused: loading it could run code ({what}); cmpl loads only the checkpoints it writes"
        ) from None
    except (RuntimeError, EOFError) as e:
        text = str(e).strip()
        reason = text.splitlines()[0].split(". ")[0] if text else type(e).__name__  # not torch's advice
        raise CheckpointError(f"{path}: not a readable checkpoint ({reason})") from None


def rng_state() -> dict[str, Any]:
    """Every random generator the run uses, in a form ``weights_only`` loading accepts."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2])},
        "python": torch.tensor(random.getstate()[1], dtype=torch.int64),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Set every generator from :func:`rng_state`'s dict; its tensors may have been loaded onto a device
    (``map_location``): the generators take CPU tensors only."""
    torch.set_rng_state(state["torch"].cpu())
    np.random.set_state(
        ("MT19937", state["numpy"]["keys"].cpu().numpy().astype(np.uint32), state["numpy"]["pos"], 0, 0.0)
    )
    python = tuple(int(x) for x in state["python"].cpu().tolist())
    random.setstate((3, python, None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
