"""A multi-slot pipeline end to end: images, labels and captions from one record.

Makes a few synthetic JPEGs, then loads (image, label, caption) batches with a
per-record map, a random augmentation, the failure policy and a context hook.

    python examples/multi_slot_pipeline.py
"""

from __future__ import annotations

import json
import tempfile

import numpy as np

import dataio
from dataio._synthetic import write_jpeg_set


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        paths = write_jpeg_set(root, 10)
        rows = [{"path": p, "class_id": i % 3, "caption": json.dumps({"text": f"picture {i}"})}
                for i, p in enumerate(paths)]
        rows.append({"path": f"{root}/missing.jpg", "class_id": 0, "caption": json.dumps({"text": "lost"})})

        pipe = dataio.pipeline(
            # per record: shape raw rows into slot fields (label as a 1-byte payload)
            dataio.map(lambda r: {"image": r["path"], "label": np.uint8(r["class_id"]),
                                  "caption": r["caption"].encode()}),
            dataio.slot("image")
                .decode_image(mode="rgb")
                .random_resized_crop(h=160, w=160)
                .hflip()
                .normalize("imagenet"),
            dataio.slot("label").decode_bytes(),
            dataio.slot("caption").decode_json(field="text"),
            dataio.batch(4),
        )
        print(pipe.explain(device="cpu"))
        with pipe.bind(rows).run("numpy", seed=1, context=lambda r: r["image"].rsplit("/", 1)[-1]) as loader:
            for batch in loader:
                labels = batch["label"][:, 0].tolist()
                captions = [bytes(c).decode() for c in batch["caption"]]
                print(f"batch {batch.batch_number}: image {batch['image'].shape} labels {labels} "
                      f"captions {captions} files {batch.context}")
                for error in batch.errors:
                    print(f"  skipped row {error['index']} ({error['key']}): {error['stage']} {error['message']}")


if __name__ == "__main__":
    main()
