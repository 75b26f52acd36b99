"""Hugging Face accelerate: ``Accelerator.prepare`` over a dataio ``DataLoader`` of dict batches.

accelerate moves batches that are dicts (or tensors) to the device; ``as_dict=True`` gives
``{slot name: tensor}`` per batch. Under ``accelerate launch`` with several processes, add
``shard="auto"`` to ``as_torch_dataset(...)`` so that each process reads its own records.

    python examples/train_accelerate.py
"""

from __future__ import annotations

import tempfile

import accelerate
import torch

import dataio
from dataio._synthetic import write_jpeg_set


def main() -> None:
    accelerator = accelerate.Accelerator(cpu=True)
    with tempfile.TemporaryDirectory() as root:
        paths = write_jpeg_set(root, 64, seed=0)
        records = [{"image": path, "label": i % 4} for i, path in enumerate(paths)]
        bound = dataio.pipeline(
            dataio.slot("image").decode_image().random_resized_crop(h=32, w=32).hflip().normalize("imagenet"),
            dataio.slot("label").decode_scalar(),
            dataio.batch(8),
        ).bind(records)
        train = torch.utils.data.DataLoader(bound.as_torch_dataset(as_dict=True, shuffle=True, seed=7),
                                            batch_size=None)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 4))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        model, optimizer, train = accelerator.prepare(model, optimizer, train)
        steps = 0
        for _epoch in range(2):  # each pass over the dataset is the next epoch (a new order)
            for batch in train:
                loss = torch.nn.functional.cross_entropy(model(batch["image"]), batch["label"])
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
                steps += 1
    assert steps == 2 * 64 // 8, steps
    print(f"accelerate: {steps} steps over 2 epochs on {accelerator.device}")


if __name__ == "__main__":
    main()
