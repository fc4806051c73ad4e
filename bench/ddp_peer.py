#!/usr/bin/python3
"""PyTorch DDP (gloo) peer of `dp_step_bench step`: the same MiT + DAFormer
head (bench/model_python_peer.py), batch, loss and AdamW step, with and
without DDP's gradient exchange. Launched by mpirun (rank/world from
Open MPI's environment). Prints one JSON line (rank 0) per measurement."""
import contextlib
import json
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_python_peer import Segmentor  # noqa: E402


def main():
    backbone, size, batch, iters = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", 0))
    world = int(os.environ.get("OMPI_COMM_WORLD_SIZE", 1))
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = Segmentor(int(backbone[-1]))
    ddp = torch.nn.parallel.DistributedDataParallel(net)
    torch.manual_seed(1 + rank)
    x = torch.randn(batch, 3, size, size)
    y = torch.randint(19, (batch, size // 4, size // 4))
    opt = torch.optim.AdamW(net.parameters(), lr=6e-5)

    def one_step(exchange):
        dist.barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        # no_sync(): DDP's own way to skip the gradient exchange.
        with contextlib.nullcontext() if exchange else ddp.no_sync():
            loss = F.cross_entropy(ddp(x), y)
            loss.backward()
        opt.step()
        return time.perf_counter() - t0

    # Interleaved rounds (without, with exchange) after two warm-up steps.
    one_step(True)
    one_step(False)
    total = [0.0, 0.0]
    for _ in range(iters):
        for e in (0, 1):
            total[e] += one_step(e == 1)
    for e in (0, 1):
        t = torch.tensor([total[e] / iters], dtype=torch.float64)
        dist.all_reduce(t)
        if rank == 0:
            print(json.dumps({"bench": "step", "impl": "pytorch-ddp-gloo", "ranks": world, "backbone": backbone,
                              "size": size, "batch_per_rank": batch, "exchange": e == 1,
                              "seconds": t.item() / world}), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
