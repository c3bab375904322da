"""Steps whose loss or gradients are not finite are undone on the device, so the host never waits for it.

Checking ``loss.isfinite()`` on the host before ``optimizer.step()`` would stop the host every step until the
device has finished the backward pass, and the next step's work would no longer be queued behind it. Instead
the guard copies the model's parameters and floating buffers (BatchNorm statistics) and the optimizer's state
before the forward pass and, after the update, puts back the copy wherever the step was not finite
(``torch.where`` on a flag that stays on the device). The price is one extra copy of that state in memory and
a copy and a select per tensor each step, all queued asynchronously. The counts are read at the log lines,
which synchronise anyway."""

from __future__ import annotations

import torch
from torch import nn

from cmpl.engine import distributed

__all__ = ["NonFiniteGuard"]


class NonFiniteGuard:
    """Snapshot before a step, undo it after if it was not finite, and count such steps on the device."""

    def __init__(self, module: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device) -> None:
        self.module, self.optimizer = module, optimizer
        zero = torch.zeros((), device=device)
        self.skipped = zero.clone()  # skipped steps since the last read
        self.streak = zero.clone()  # consecutive skipped steps up to now
        self.longest = zero.clone()  # longest streak since the last read

    def _tensors(self) -> list[torch.Tensor]:
        """Everything a step changes; optimizer state created by a step comes last (dicts keep order)."""
        params = [p.detach() for p in self.module.parameters()]
        buffers = [b for b in self.module.buffers() if b.is_floating_point()]
        state = [
            v
            for s in self.optimizer.state.values()
            for v in s.values()
            if torch.is_tensor(v) and v.is_floating_point()
        ]
        return [*params, *buffers, *state]

    def snapshot(self) -> list[torch.Tensor]:
        """Copies to restore; take them before the forward pass (it updates BatchNorm statistics)."""
        return [t.clone() for t in self._tensors()]

    @torch.no_grad()
    def finite(self, loss: torch.Tensor) -> torch.Tensor:
        """Whether the loss and every gradient are finite, on every rank (a device flag)."""
        grads = [p.grad for p in self.module.parameters() if p.grad is not None]
        ok = torch.isfinite(loss.detach())
        if grads:
            ok &= torch.isfinite(torch.stack(torch._foreach_norm(grads)).sum())
        return distributed.all_ranks(ok)

    @torch.no_grad()
    def undo_unless(self, finite: torch.Tensor, saved: list[torch.Tensor]) -> None:
        """Keep the step where ``finite``, else restore ``saved`` (state the step created is zeroed)."""
        tensors = self._tensors()
        for t, s in zip(tensors, saved, strict=False):
            t.copy_(torch.where(finite, t, s))
        for t in tensors[len(saved) :]:  # e.g. momentum buffers made by the very first step
            t.copy_(torch.where(finite, t, torch.zeros_like(t)))
        bad = (~finite).float()
        self.skipped += bad
        self.streak.copy_((self.streak + 1) * bad)
        self.longest.copy_(torch.maximum(self.longest, self.streak))

    def read(self) -> tuple[int, int]:
        """(skipped steps, longest streak) since the last read; a streak still running carries over."""
        skipped, longest = int(self.skipped.item()), int(self.longest.item())
        self.skipped.zero_()
        self.longest.copy_(self.streak)
        return skipped, longest
