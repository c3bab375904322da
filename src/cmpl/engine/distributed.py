"""torch.distributed in a few helpers: start from torchrun's environment, know your rank, average metrics."""

from __future__ import annotations

import os
from datetime import timedelta

import torch
import torch.distributed as dist

__all__ = [
    "all_gather",
    "all_ranks",
    "all_reduce_mean",
    "any_rank",
    "attempt_store",
    "barrier",
    "cleanup",
    "init_distributed",
    "is_main",
    "local_rank",
    "rank",
    "world_size",
]


TIMEOUT = timedelta(minutes=30)


def init_distributed(device: torch.device) -> None:
    """Join the process group that torchrun describes in the environment (no-op for a single process).

    NCCL on GPUs, Gloo on CPUs; multi-node runs work through torchrun's rendezvous unchanged.
    """
    if dist.is_initialized() or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    store = attempt_store()
    if store is None:
        dist.init_process_group(backend, timeout=TIMEOUT)
    else:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        dist.init_process_group(backend, store=store, rank=rank, world_size=world, timeout=TIMEOUT)


def attempt_store() -> dist.Store | None:
    """Under torchrun, the agent's store seen through a prefix of this restart attempt; None otherwise.

    torchrun's agent keeps one TCPStore server for all attempts of a worker group, and this torch's env://
    rendezvous connects to it without a per-attempt prefix, so the keys that a process group writes there
    (each rank's Gloo address, the store barrier's counters) outlive the group. A group restarted after a
    rank died could read the dead rank's address and fail with "Gloo connectFullMesh failed ... Connection
    refused", or pass or wait on a stale barrier count. A prefix per ``TORCHELASTIC_RESTART_COUNT`` gives
    every attempt keys of its own."""
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != str(True):
        return None
    client = dist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        int(os.environ["WORLD_SIZE"]),
        is_master=False,
        timeout=TIMEOUT,
    )
    return dist.PrefixStore(f"cmpl/attempt_{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", client)


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def broadcast_from_main(value: object) -> object:
    """Rank 0's ``value`` on every rank (a picklable object; the identity for one process)."""
    if not dist.is_initialized():
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def all_gather(value: object) -> list[object]:
    """Every rank's ``value`` (a picklable object), in rank order; ``[value]`` for one process."""
    if not dist.is_initialized():
        return [value]
    gathered: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def all_reduce_mean(values: dict[str, torch.Tensor]) -> dict[str, float]:
    """Average scalar tensors over ranks in one collective; returns Python floats."""
    if not values:
        return {}
    keys = sorted(values)
    stacked = torch.stack([values[k].detach().float().reshape(()) for k in keys])
    if dist.is_initialized():
        dist.all_reduce(stacked, op=dist.ReduceOp.SUM)
        stacked /= dist.get_world_size()
    return dict(zip(keys, stacked.tolist(), strict=True))


def all_ranks(flag: torch.Tensor) -> torch.Tensor:
    """A boolean tensor that is true where it is true on every rank; queued, the host does not wait."""
    if not dist.is_initialized():
        return flag
    as_int = flag.to(torch.int32)
    dist.all_reduce(as_int, op=dist.ReduceOp.MIN)
    return as_int.bool()


def any_rank(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` is true on some rank (a host value: every rank waits for this collective)."""
    if not dist.is_initialized():
        return flag
    value = torch.tensor(int(flag), device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
