"""What the runtime needs from an executor: the protocol both executor packages implement."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from dataio.ops._base import TensorSpec
    from dataio.runtime.assembly import Assembly
    from dataio.runtime.batch import BatchContent
    from dataio.runtime.rowprep import PreparedRow
    from dataio.runtime.stats import StageClock


class Executor(Protocol):
    """What the runtime needs from an executor."""

    name: str
    device: str
    clock: StageClock
    """Stage timings the executor adds to (``loader.stats()``); the loader sets its own."""

    def process_row(self, assembly: Assembly, row: PreparedRow) -> None:
        """Run (or stage) one read row's slot chains into ``assembly`` (called on pool threads)."""

    def finish_batch(self, assembly: Assembly) -> None:
        """A batch's rows were all processed: start batch-level work (e.g. feed a device graph).

        Called on the thread that finished the last row; it should not wait for that work.
        """

    def complete_batch(self, assembly: Assembly) -> None:
        """Finish the batch-level work before delivery (consumer thread): afterwards every
        row's outcome and value is in ``assembly``."""

    def place(self, content: BatchContent) -> None:
        """Move the batch's columns to where this executor delivers them (consumer thread)."""

    def run_batch_transform(self, op: Any, slots: dict[str, int], content: BatchContent,
                            specs: list[TensorSpec], rng: Any) -> None:
        """Apply one native batch transform to ``content`` (consumer thread)."""
