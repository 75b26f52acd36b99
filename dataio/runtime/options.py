"""``run(...)`` options, validated eagerly and resolved once (docs/api.md §4.2)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from dataio._errors import DeviceUnavailable, PlanError
from dataio._validate import as_bool, as_int, as_seed
from dataio.plan import DEFAULT_PREFETCH, BatchStage
from dataio.plan import Plan
from dataio.runtime.batch import Ragged
from dataio.runtime.output import Adapter, make_adapter

ORDERS = ("submit", "completion")
RAGGED = ("list", "error", "skip")

# The values ``run()`` takes, for type checkers (validate_run checks them at run time, naming the option).
Output = Literal["torch", "numpy", "jax", "dlpack"] | Callable[[Any], Any]
Concurrency = Literal["auto"] | int
OnFailure = Literal["strict", "skip"] | int
LogErrors = bool | Callable[[dict[str, Any]], Any]
Order = Literal["submit", "completion"] | None
PinMemory = Literal["auto"] | bool
Device = Literal["auto", "cpu", "cuda"] | str | None
"""``"auto"``, ``"cpu"``/``None``, ``"cuda"`` or ``"cuda:N"``."""
AUTO_COLLATE_BATCH = 4
"""The batch size ``concurrency="auto"`` assumes for ``collate``/``group_by`` (docs/api.md §4.2)."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """The validated options of one ``run()``."""

    output: Any
    adapter: Adapter
    concurrency: int
    prefetch: int
    on_failure: str | int
    log_errors: bool | Callable[[dict[str, Any]], None]
    order: str
    seed: int
    context: Callable[[Any], Any] | None
    ragged: Ragged
    executor: str
    """The executor that runs the plan: ``"cpu_fallback"`` or ``"gpu"``."""
    device: str
    """Where batches are delivered: ``"cpu"`` or ``"cuda:N"`` (resolved from ``run(device=...)``)."""
    pin_memory: bool
    """Host batch buffers are page-locked (CUDA host pinning through torch)."""
    emit_empty_batches: bool
    max_prefetch_bytes: int | None
    """The cap on prefetched output bytes; ``prefetch`` is already reduced to respect it."""


def validate_run(plan: Plan, *, output: Any, concurrency: Any, on_failure: Any, log_errors: Any,
                 order: Any, seed: Any, context: Any, pin_memory: Any, ragged: Any, device: Any,
                 emit_empty_batches: Any, max_prefetch_bytes: Any) -> RunOptions:
    """Check every ``run()`` option and resolve the device; raise ``TypeError``/``ValueError`` naming the bad one.

    Raises:
        DeviceUnavailable: a CUDA device or host pinning was asked for and cannot be had.
    """
    from dataio.device import resolve_device

    executor, where = resolve_device(device)
    check_output_for_device(output, where)
    shape = plan.shape
    batch_size = shape.size if isinstance(shape, BatchStage) else AUTO_COLLATE_BATCH
    prefetch = shape.prefetch if shape.prefetch is not None else DEFAULT_PREFETCH
    if max_prefetch_bytes is not None:
        budget = as_int("run", "max_prefetch_bytes", max_prefetch_bytes, minimum=1)
        prefetch = min(prefetch, _prefetch_for_bytes(plan, batch_size, budget))
    return RunOptions(
        output=output,
        adapter=make_adapter(output),
        concurrency=_concurrency(concurrency, batch_size),
        prefetch=prefetch,
        on_failure=_on_failure(on_failure),
        log_errors=_log_errors(log_errors),
        order=_order(order),
        seed=0 if seed is None else as_seed("run", "seed", seed),
        context=_context(context),
        ragged=_choice("ragged", ragged, RAGGED),  # type: ignore[arg-type]
        executor=executor,
        device=where,
        pin_memory=_pin_memory(pin_memory),
        emit_empty_batches=as_bool("run", "emit_empty_batches", emit_empty_batches),
        max_prefetch_bytes=max_prefetch_bytes,
    )


def check_output_for_device(output: Any, device: str) -> None:
    """Device batches need an output that can hold device memory (docs/api.md §4.2 ``device``).

    Raises:
        PlanError: ``output="numpy"`` while batches are delivered on ``device`` (a CUDA device).
    """
    if output == "numpy" and device != "cpu":
        raise PlanError(f'run(output="numpy"): batches are delivered in device memory on {device}; use '
                        'output="torch", "jax", "dlpack" or a callable adapter, or run(device="cpu") for numpy')


def _concurrency(value: Any, batch_size: int) -> int:
    if isinstance(value, str):
        if value != "auto":
            raise PlanError(f"run(concurrency={value!r}): concurrency must be 'auto' or an int >= 1")
        return max(8, 2 * batch_size)
    return as_int("run", "concurrency", value, minimum=1)


def _on_failure(value: Any) -> str | int:
    if isinstance(value, str):
        return _choice("on_failure", value, ("strict", "skip"))
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"run(on_failure={value!r}): on_failure must be 'strict', 'skip' or an int >= 0")
    return as_int("run", "on_failure", value, minimum=0)


def _log_errors(value: Any) -> bool | Callable[[dict[str, Any]], None]:
    if isinstance(value, bool) or callable(value):
        return value
    raise TypeError(f"run(log_errors={value!r}): log_errors must be a bool or a callable taking the error dict")


def _order(value: Any) -> str:
    return "submit" if value is None else _choice("order", value, ORDERS)


def _context(value: Any) -> Callable[[Any], Any] | None:
    if value is None or callable(value):
        return value
    raise TypeError(f"run(context={value!r}): context must be None or a callable (record) -> Any")


def _choice(param: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"run({param}={value!r}): {param} must be one of {', '.join(map(repr, choices))}")
    if value not in choices:
        raise PlanError(f"run({param}={value!r}): {param} must be one of {', '.join(map(repr, choices))}")
    return value


def _pin_memory(value: Any) -> bool:
    from dataio.device import pinned_batches_available

    if isinstance(value, str):
        if value != "auto":
            raise PlanError(f"run(pin_memory={value!r}): pin_memory must be 'auto' or a bool")
        return pinned_batches_available()[0]
    wanted = as_bool("run", "pin_memory", value)
    if wanted:
        available, reason = pinned_batches_available()
        if not available:
            raise DeviceUnavailable(f"run(pin_memory=True): CUDA host pinning is unavailable: {reason}")
    return wanted


def _prefetch_for_bytes(plan: Plan, batch_size: int, budget: int) -> int:
    """Batches that fit in ``budget`` bytes (at least 1); only for fixed-size outputs."""
    if not isinstance(plan.shape, BatchStage) or not all(s.output.is_static for s in plan.slots):
        raise PlanError(f"run(max_prefetch_bytes={budget}): needs a batch() pipeline whose slot outputs all have "
                        "a fixed dtype and shape")
    import numpy as np

    row_bytes = 0
    for s in plan.slots:  # static outputs only (checked above)
        shape, dtype = s.output.static_layout
        row_bytes += np.dtype(dtype).itemsize * math.prod(shape)
    return max(1, budget // max(1, row_bytes * batch_size))

