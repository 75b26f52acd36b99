"""PyTorch Lightning: dataio's batches through ``Trainer.fit`` on the CPU.

``as_torch_dataset`` makes the pipeline an ``IterableDataset`` of whole batches, so the
``DataLoader`` takes ``batch_size=None``; Lightning moves each batch with ``batch.to(device)``.
Under DDP, add ``shard="auto"`` to ``as_torch_dataset(...)``: each rank then reads its own
records (and torch's workers, if any, split the rank's share).

    python examples/train_lightning.py
"""

from __future__ import annotations

import os
import tempfile

import lightning
import torch

import dataio
from dataio._synthetic import write_jpeg_set


class Classifier(lightning.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 4))

    def training_step(self, batch: dataio.Batch, index: int) -> torch.Tensor:
        images, labels = batch  # a batch iterates over its slots' values, in slot order
        return torch.nn.functional.cross_entropy(self.net(images), labels)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        paths = write_jpeg_set(root, 64, seed=0)
        records = [{"image": path, "label": i % 4} for i, path in enumerate(paths)]
        bound = dataio.pipeline(
            dataio.slot("image").decode_image().random_resized_crop(h=32, w=32).hflip().normalize("imagenet"),
            dataio.slot("label").decode_scalar(),
            dataio.batch(8),
        ).bind(records)
        train = torch.utils.data.DataLoader(bound.as_torch_dataset(shuffle=True, seed=7), batch_size=None)
        trainer = lightning.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                                    enable_progress_bar=False, enable_model_summary=False,
                                    default_root_dir=os.path.join(root, "runs"))
        trainer.fit(Classifier(), train)
    assert trainer.global_step == 2 * 64 // 8, trainer.global_step
    print(f"Lightning: {trainer.global_step} steps over 2 epochs")


if __name__ == "__main__":
    main()
