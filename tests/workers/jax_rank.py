"""One JAX process of a multi-process run on 127.0.0.1: ``python jax_rank.py PORT PROCESS_ID COUNT``.

Initialises ``jax.distributed``, iterates a loader with ``shard="auto"`` and ``output="jax"``, and prints one
JSON line: the process index and count JAX reports, and per batch its keys, value type and values.
"""

from __future__ import annotations

import json
import sys

import jax

import dataio


def main() -> None:
    port, process_id, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=count, process_id=process_id)
    try:
        pipe = dataio.pipeline(dataio.slot("x").decode_scalar(), dataio.batch(2))
        records = [{"key": f"r{i}", "x": i} for i in range(4 * count)]
        with pipe.bind(records).run("jax", device="cpu", shard="auto") as loader:
            batches = [{"keys": b.keys, "type": type(b["x"]).__name__, "is_jax": isinstance(b["x"], jax.Array),
                        "values": [int(v) for v in b["x"]]} for b in loader]
        print(json.dumps({"index": jax.process_index(), "count": jax.process_count(), "batches": batches}))
    finally:
        jax.distributed.shutdown()


if __name__ == "__main__":
    main()
