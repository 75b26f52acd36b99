"""One rank of a torchrun job on 127.0.0.1 (gloo, CPU) reading a webdataset with ``shard="auto"``.

``python -m torch.distributed.run --nproc_per_node=N torch_rank.py MODE SHARDS OUT [BATCHES]``:

- ``all``: read the whole epoch;
- ``save``: read ``BATCHES`` batches, then write the loader's state;
- ``resume``: load rank 0's state from a ``save`` run under another world size (``elastic=True``), read to the end.

Each rank writes ``OUT/<mode>-rank<r>.json``: its rank and world size, the keys it read and (``save``) its state.
"""

from __future__ import annotations

import json
import sys
from itertools import islice
from pathlib import Path

import torch.distributed as dist

import dataio


def main() -> None:
    mode, shards, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    dist.init_process_group("gloo")
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        pipe = dataio.pipeline(dataio.slot("cls").decode_scalar(), dataio.batch(2))
        with pipe.bind(dataio.webdataset(shards)).run("numpy", device="cpu", shard="auto") as loader:
            result: dict = {"rank": rank, "world": world}
            if mode == "resume":
                state = json.loads((out / "save-rank0.json").read_text())["state"]
                loader.load_state_dict(state, elastic=True)
            batches = islice(loader, int(sys.argv[4])) if mode == "save" else loader
            result["keys"] = [key for batch in batches for key in batch.keys]
            if mode == "save":
                result["state"] = loader.state_dict()
        (out / f"{mode}-rank{rank}.json").write_text(json.dumps(result))
        dist.barrier()
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
