"""JAX: batches as ``jax.Array`` (DLPack, no copy on the CPU) into a jitted SGD step.

On several hosts, call ``jax.distributed.initialize()`` and add ``shard="auto"`` to ``run(...)``:
dataio reads JAX's process index and count, so each process reads its own records.

    python examples/train_jax.py
"""

from __future__ import annotations

import tempfile

import jax
import jax.numpy as jnp

import dataio
from dataio._synthetic import write_jpeg_set


def loss_fn(params: dict[str, jax.Array], images: jax.Array, labels: jax.Array) -> jax.Array:
    logits = images.reshape(images.shape[0], -1) @ params["w"] + params["b"]
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1))


@jax.jit
def step(params: dict[str, jax.Array], images: jax.Array, labels: jax.Array) -> tuple[dict[str, jax.Array],
                                                                                      jax.Array]:
    loss, grads = jax.value_and_grad(loss_fn)(params, images, labels)
    return jax.tree_util.tree_map(lambda p, g: p - 1e-4 * g, params, grads), loss


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        paths = write_jpeg_set(root, 64, seed=0)
        records = [{"image": path, "label": i % 4} for i, path in enumerate(paths)]
        pipeline = dataio.pipeline(
            dataio.slot("image").decode_image().random_resized_crop(h=32, w=32).hflip().normalize("imagenet"),
            dataio.slot("label").decode_scalar("int32"),
            dataio.batch(8, drop_last=True),
        )
        params = {"w": jnp.zeros((3 * 32 * 32, 4)), "b": jnp.zeros(4)}
        losses = []
        with pipeline.bind(records).run("jax", device="cpu", shuffle=True, seed=7) as loader:
            for epoch in range(2):
                loader.set_epoch(epoch)
                for batch in loader:
                    assert isinstance(batch["image"], jax.Array)
                    params, loss = step(params, batch["image"], batch["label"])
                    losses.append(float(loss))
    assert len(losses) == 2 * 64 // 8 and all(jnp.isfinite(jnp.array(losses)))
    print(f"JAX: {len(losses)} steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}")


if __name__ == "__main__":
    main()
