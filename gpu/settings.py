"""DALI settings chosen from the machine: CPU worker threads, hardware-decoder share, buffer hints.

DALI's mixed JPEG decoder sends ``hw_decoder_load`` of each batch's JPEGs to the GPU's
hardware decoder (A100/H100) and Huffman-decodes the rest on the pipeline's CPU threads
before the GPU finishes them. DALI's own default share, 0.65, assumes enough CPU threads
for the other 35 %: with few threads they become the bottleneck, so the share goes up
when the machine (or ``DATAIO_DALI_THREADS``) gives fewer than :data:`HYBRID_THREADS`.
``jpeg_fancy_upsampling`` makes the GPU's chroma upsampling libjpeg-turbo's (and so
Pillow's and the CPU fallback's); DALI's CPU decoder always upsamples that way.
"""

from __future__ import annotations

from dataclasses import dataclass

from dataio._env import worker_count
from dataio.runtime.pools import available_cpus

THREADS_ENV = "DATAIO_DALI_THREADS"
MAX_THREADS = 16
HYBRID_THREADS = 8
"""DALI CPU threads from which DALI's default hardware-decoder share (0.65) is kept."""
PREALLOCATE_LIMIT = 8192
"""Largest image side used as a preallocation hint for the hardware decoder."""


@dataclass(frozen=True, slots=True)
class GraphSettings:
    """How one DALI pipeline is set up.

    Attributes:
        on_gpu: decode with ``device="mixed"`` and run every node after on the GPU; ``False``
            places every op on DALI's CPU operators (CI).
        num_threads: DALI's CPU worker threads.
        hw_decoder_load: the share of JPEGs for the hardware decoder (mixed backend).
        preallocate: ``(height, width)`` hint for the hardware decoder's buffers, or ``(0, 0)``.
        fancy_upsampling: libjpeg-turbo's chroma upsampling on the GPU too.
    """

    on_gpu: bool
    num_threads: int = 2
    hw_decoder_load: float = 0.65
    preallocate: tuple[int, int] = (0, 0)
    fancy_upsampling: bool = True

    def decoder_args(self) -> dict[str, object]:
        """The ``fn.decoders.image`` arguments these settings stand for (mixed-only ones on the GPU only)."""
        args: dict[str, object] = {"jpeg_fancy_upsampling": self.fancy_upsampling}
        if self.on_gpu:
            height, width = self.preallocate
            args.update(hw_decoder_load=self.hw_decoder_load, preallocate_height_hint=height,
                        preallocate_width_hint=width)
        return args


def machine_settings(on_gpu: bool, sizes: list[tuple[int, int]] | None = None) -> GraphSettings:
    """Settings for this machine: threads from the CPUs this process may use (or ``DATAIO_DALI_THREADS``),
    the hardware-decoder share from the threads, buffer hints from the first batch's decoded ``sizes``."""
    default = max(2, min(MAX_THREADS, available_cpus() // 2))
    threads = worker_count(THREADS_ENV, default)
    load = 0.65 if threads >= HYBRID_THREADS else 0.9
    height = min(PREALLOCATE_LIMIT, max((h for h, _ in sizes), default=0)) if sizes else 0
    width = min(PREALLOCATE_LIMIT, max((w for _, w in sizes), default=0)) if sizes else 0
    return GraphSettings(on_gpu, threads, load, (height, width))
