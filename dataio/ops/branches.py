"""Conditional ops (docs/api.md §3.2 "conditional ops", §2.4): run one of several op sequences per record.

An *arm* is a transform or a non-empty sequence of transforms. ``sometimes`` runs its
body with probability ``prob`` (one coin), ``choice`` runs one arm (weighted),
``some_of`` runs ``n`` distinct arms in arm order, ``select`` runs the first arm whose
predicate holds (drawing no randomness itself). All arms — and the unchanged input,
where no arm may run — must produce compatible outputs: same dtype, layout and rank,
and equal sizes where statically known; the plan keeps a dim only when every arm agrees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dataio._errors import PlanError
from dataio._validate import as_float, as_int
from dataio.ops._base import TensorSpec, Transform, op
from dataio.ops.cond import Cond

Arm = tuple[Transform, ...]


def as_arm(func: str, param: str, value: Any) -> Arm:
    """A transform or a non-empty sequence of transforms, as a tuple."""
    if isinstance(value, Transform):
        return (value,)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{func}({param}=...): an arm is a Transform or a sequence of Transforms; "
                        f"got {type(value).__name__}")
    if not value:
        raise ValueError(f"{func}({param}=[]): an arm needs at least one op")
    for item in value:
        if not isinstance(item, Transform):
            raise TypeError(f"{func}({param}=...): arms hold Transforms only; got {type(item).__name__}")
    return tuple(value)


def infer_arm(arm: Arm, spec: TensorSpec) -> TensorSpec:
    """The output description of running ``arm`` on ``spec``."""
    for transform in arm:
        spec = transform.infer(spec)
    return spec


def merge_specs(func: str, specs: list[TensorSpec]) -> TensorSpec:
    """One description covering every arm's output; :class:`PlanError` when they are incompatible."""
    first = specs[0]
    for other in specs[1:]:
        rank_a = None if first.shape is None else len(first.shape)
        rank_b = None if other.shape is None else len(other.shape)
        if (other.is_object != first.is_object or other.dtype != first.dtype or other.layout != first.layout
                or rank_a != rank_b):
            raise PlanError(f"{func}: arms produce incompatible outputs: {first.describe()} vs {other.describe()}")
        if first.shape is not None and other.shape is not None:
            for a, b in zip(first.shape, other.shape, strict=True):
                if a is not None and b is not None and a != b:
                    raise PlanError(f"{func}: arms produce different static sizes: {first.describe()} vs "
                                    f"{other.describe()}")
    if first.shape is None:
        return first
    dims = tuple(d if all(s.shape is not None and s.shape[i] == d for s in specs) else None
                 for i, d in enumerate(first.shape))
    return TensorSpec(first.dtype, first.layout, dims, first.is_object)


@op("sometimes", random=True)
class Sometimes(Transform):
    """Run ``body`` with probability ``prob`` (one coin per record for the whole body).

    Args:
        body: the arm to run.
        prob: probability in [0, 1].
    """

    body: Arm
    prob: float = 0.5

    def __post_init__(self) -> None:
        self.set("body", as_arm("sometimes", "body", self.body))
        self.set("prob", as_float("sometimes", "prob", self.prob, minimum=0.0, maximum=1.0))

    def infer(self, spec: TensorSpec) -> TensorSpec:
        return merge_specs("sometimes", [infer_arm(self.body, spec), spec])


@op("choice", random=True)
class Choice(Transform):
    """Run one arm, picked with probabilities proportional to ``weights`` (uniform by default).

    Args:
        arms: the arms.
        weights: one non-negative weight per arm (0 = never), not all zero.
    """

    arms: tuple[Arm, ...]
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        self.set("arms", _arms("choice", self.arms))
        if self.weights is not None:
            weights = tuple(as_float("choice", "weights", w, minimum=0.0) for w in _sequence("choice", "weights",
                                                                                             self.weights))
            if len(weights) != len(self.arms):
                raise ValueError(f"choice(weights={list(weights)}): {len(weights)} weights for {len(self.arms)} arms")
            if not any(weights):
                raise ValueError(f"choice(weights={list(weights)}): at least one weight must be > 0")
            self.set("weights", weights)

    def infer(self, spec: TensorSpec) -> TensorSpec:
        return merge_specs("choice", [infer_arm(a, spec) for a in self.arms])

    def cumulative(self) -> list[float]:
        """Cumulative probabilities of the arms (the last is 1)."""
        weights = self.weights or (1.0,) * len(self.arms)
        total, running, out = sum(weights), 0.0, []
        for w in weights:
            running += w
            out.append(running / total)
        out[-1] = 1.0
        return out


@op("some_of", random=True)
class SomeOf(Transform):
    """Run ``n`` distinct arms, picked uniformly, in arm order.

    Args:
        n: how many arms (0 ≤ n ≤ number of arms).
        arms: the arms; each must keep the value's description (they combine freely).
    """

    n: int
    arms: tuple[Arm, ...]

    def __post_init__(self) -> None:
        self.set("arms", _arms("some_of", self.arms))
        self.set("n", as_int("some_of", "n", self.n, minimum=0))
        if self.n > len(self.arms):
            raise ValueError(f"some_of(n={self.n}): n must be <= the number of arms ({len(self.arms)})")

    def infer(self, spec: TensorSpec) -> TensorSpec:
        return merge_specs("some_of", [spec] + [infer_arm(a, spec) for a in self.arms])


@op("select")
class Select(Transform):
    """Run the arm of the first predicate that holds; else ``default`` (or nothing).

    Predicates may read record fields (``col(...)``) and the current tensor (``cond.shape``).

    Args:
        arms: ``(Cond, arm)`` pairs, tried in order.
        default: the arm when no predicate holds, or ``None`` to leave the value unchanged.
    """

    arms: tuple[tuple[Cond, Arm], ...]
    default: Arm | None = None

    def __post_init__(self) -> None:
        pairs = []
        for pair in _sequence("select", "arms", self.arms):
            if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise TypeError("select(arms=...): each arm is a (Cond, arm) pair")
            cond, arm = pair
            if not isinstance(cond, Cond):
                raise TypeError(f"select(arms=...): a predicate must be a Cond (e.g. col('x').eq(1)); "
                                f"got {type(cond).__name__}")
            pairs.append((cond, as_arm("select", "arms", arm)))
        if not pairs:
            raise ValueError("select(arms=[]): needs at least one (Cond, arm) pair")
        self.set("arms", tuple(pairs))
        if self.default is not None:
            self.set("default", as_arm("select", "default", self.default))

    def infer(self, spec: TensorSpec) -> TensorSpec:
        outputs = [infer_arm(arm, spec) for _, arm in self.arms]
        outputs.append(infer_arm(self.default, spec) if self.default is not None else spec)
        return merge_specs("select", outputs)

    def with_arm(self, cond: Cond, arm: Arm) -> Select:
        """A copy with one more ``(cond, arm)`` pair (``elif_``)."""
        return Select(arms=(*self.arms, (cond, arm)), default=self.default)

    def with_default(self, arm: Arm) -> Select:
        """A copy with ``default`` set (``otherwise``)."""
        return Select(arms=self.arms, default=arm)


def _sequence(func: str, param: str, value: Any) -> Sequence[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{func}({param}=...): expected a sequence; got {type(value).__name__}")
    return value


def _arms(func: str, value: Any) -> tuple[Arm, ...]:
    arms = tuple(as_arm(func, "arms", a) for a in _sequence(func, "arms", value))
    if not arms:
        raise ValueError(f"{func}(arms=[]): needs at least one arm")
    return arms


def sometimes(body: Transform | Sequence[Transform], /, *, prob: float = 0.5) -> Sometimes:
    """Run ``body`` with probability ``prob``."""
    return Sometimes(body=body, prob=prob)  # type: ignore[arg-type]


def choice(arms: Sequence[Transform | Sequence[Transform]], /, *, weights: Sequence[float] | None = None) -> Choice:
    """Run one of ``arms`` (weighted)."""
    return Choice(arms=arms, weights=weights)  # type: ignore[arg-type]


def some_of(n: int, arms: Sequence[Transform | Sequence[Transform]], /) -> SomeOf:
    """Run ``n`` distinct arms in arm order."""
    return SomeOf(n=n, arms=arms)  # type: ignore[arg-type]


def select(arms: Sequence[tuple[Cond, Transform | Sequence[Transform]]], /, *,
           default: Transform | Sequence[Transform] | None = None) -> Select:
    """Run the arm of the first predicate that holds, else ``default``."""
    return Select(arms=arms, default=default)  # type: ignore[arg-type]


__all__ = ["sometimes", "choice", "some_of", "select", "Sometimes", "Choice", "SomeOf", "Select"]
