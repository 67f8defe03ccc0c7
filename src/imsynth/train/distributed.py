"""Data parallelism over torch.distributed, started by ``torchrun`` (gloo on CPU, nccl on CUDA).

Gradients are averaged by one flat all-reduce per optimiser group after each backward, as StyleGAN2-ADA
does, instead of wrapping the model in DistributedDataParallel: methods with alternating updates (GAN
generator and discriminator) call sub-networks directly, which DDP's forward hooks would miss. The
process's mean loss travels in the same buffer, so every rank sees the same (global) loss and stops
together when it is not finite.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class ProcessGroup:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device_type: str) -> ProcessGroup:
    """Join the process group when started by torchrun; a single process otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return ProcessGroup()
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
            # Under torchrun every worker is a client of the agent's store, which outlives a restart: keep each
            # restart's keys apart, or the restarted workers read the dead ones' addresses and cannot connect
            store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False)
            attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
            dist.init_process_group(
                backend,
                store=dist.PrefixStore(f"imsynth/attempt-{attempt}", store),
                rank=int(os.environ["RANK"]),
                world_size=world_size,
            )
        else:
            dist.init_process_group(backend=backend)
    return ProcessGroup(
        rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=int(os.environ.get("LOCAL_RANK", "0"))
    )


def teardown(group: ProcessGroup) -> None:
    if group.distributed and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_parameters(module: torch.nn.Module, group: ProcessGroup) -> None:
    if group.distributed:
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def average_gradients(parameters: list[torch.nn.Parameter], loss: torch.Tensor, group: ProcessGroup) -> torch.Tensor:
    """All-reduce-average the gradients of ``parameters`` and the loss; returns the global mean loss."""
    if not group.distributed:
        return loss.detach()
    with_grad = [p for p in parameters if p.grad is not None]
    flat = torch.cat(
        [p.grad.reshape(-1) for p in with_grad]
        + [loss.detach().float().reshape(1).to(with_grad[0].grad.dtype if with_grad else torch.float32)]
    )
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= group.world_size
    offset = 0
    for p in with_grad:
        count = p.grad.numel()
        p.grad.copy_(flat[offset : offset + count].view_as(p.grad))
        offset += count
    return flat[-1]


def barrier(group: ProcessGroup) -> None:
    if group.distributed:
        dist.barrier()


def shared_value(value: float, group: ProcessGroup) -> float:
    """Rank 0's ``value`` on every rank (so wall-clock decisions — stop, LR by time — agree across ranks)."""
    if not group.distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    dist.broadcast(tensor, src=0)
    return float(tensor.item())
