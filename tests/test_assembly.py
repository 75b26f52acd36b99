"""The runtime's batch state: results the executors return are recorded by the runtime alone."""

from __future__ import annotations

import numpy as np

import dataio
from dataio.runtime.assembly import BatchAssembly
from dataio.runtime.protocol import BatchResult


def test_a_batch_result_that_does_not_fit_the_slot_fails_its_row_not_the_epoch() -> None:
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize(h=4, w=4), dataio.batch(2))
    assembly = BatchAssembly(pipe.plan.slots, 0, 2)
    assembly.keys.update({0: "a", 1: "b"})
    fits = np.zeros((4, 4, 3), np.uint8)
    assembly.apply(BatchResult(values={0: {0: fits, 1: np.zeros((5, 4, 3), np.uint8)}}))
    assert list(assembly.failures) == [1] and assembly.failures[1]["stage"] == "collate"
    assert assembly.failures[1]["key"] == "b" and "slot 'image'" in assembly.failures[1]["message"]
    assert assembly.survivors() == [0]
