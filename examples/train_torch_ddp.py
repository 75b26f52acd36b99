"""Plain PyTorch + DistributedDataParallel on the CPU: two ranks, each reading its own part of every epoch.

dataio reads the rank and world size from the initialised process group (``shard="auto"``),
shuffles by ``(seed, epoch)`` the same way on every rank, and ``set_epoch`` picks the epoch —
as ``DistributedSampler`` does. Launched with torchrun, the same ``train`` runs as it is; run
alone, the script starts its two ranks itself:

    python examples/train_torch_ddp.py
    torchrun --nproc_per_node=2 examples/train_torch_ddp.py
"""

from __future__ import annotations

import os
import socket
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import dataio
from dataio._synthetic import write_jpeg_set

EPOCHS, BATCH = 2, 8


def train(root: str) -> list[str]:
    """One rank's training; returns the record keys it read."""
    records = [{"key": f"img{i:02d}", "image": path, "label": i % 4}
               for i, path in enumerate(sorted(os.path.join(root, n) for n in os.listdir(root)))]
    pipeline = dataio.pipeline(
        dataio.slot("image").decode_image().random_resized_crop(h=32, w=32).hflip().normalize("imagenet"),
        dataio.slot("label").decode_scalar(),  # int64 labels
        dataio.batch(BATCH, drop_last=True),
    )
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Sequential(torch.nn.Flatten(),
                                                                          torch.nn.Linear(3 * 32 * 32, 4)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    seen = []
    with pipeline.bind(records).run("torch", shard="auto", shuffle=True, seed=7) as loader:
        for epoch in range(EPOCHS):
            loader.set_epoch(epoch)
            for batch in loader:
                images, labels = batch["image"], batch["label"]
                loss = torch.nn.functional.cross_entropy(model(images), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                seen += batch.keys
    return seen


def _rank(rank: int, world: int, port: int, root: str, results: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        results[rank] = train(root)
    finally:
        dist.destroy_process_group()


def main() -> None:
    if "RANK" in os.environ:  # under torchrun: this process is one rank
        dist.init_process_group("gloo")
        root = os.path.join(tempfile.gettempdir(), "dataio-ddp-example")
        if dist.get_rank() == 0:
            write_jpeg_set(root, 64, seed=0)
        dist.barrier()
        train(root)
        dist.destroy_process_group()
        return
    with socket.socket() as probe:  # a free port for the ranks' rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as root:
        write_jpeg_set(root, 64, seed=0)
        with mp.Manager() as manager:
            results = manager.dict()
            mp.spawn(_rank, args=(2, port, root, results), nprocs=2)
            per_rank = [results[0], results[1]]
    for epoch in range(EPOCHS):  # each epoch: the ranks' records are disjoint and cover the data set
        first, second = (keys[epoch * 32:(epoch + 1) * 32] for keys in per_rank)
        assert not set(first) & set(second) and len(set(first) | set(second)) == 64
    print(f"2 ranks x {EPOCHS} epochs: {sum(map(len, per_rank))} samples, each epoch split between the ranks")


if __name__ == "__main__":
    main()
