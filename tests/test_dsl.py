"""The DSL and the plan: validation at construction, immutability, stable signatures, explain."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

import dataio
from dataio import decoders as D
from dataio import transforms as T
from dataio.ops._base import OP_REGISTRY


def quickstart(size: int = 64, prefetch: int | None = 4) -> dataio.Pipeline:
    return dataio.pipeline(
        dataio.slot("image").decode_image(mode="rgb").resize_short(256).center_crop(h=224, w=224)
        .normalize("imagenet"),
        dataio.batch(size, prefetch=prefetch),
    )


class TestOpValidation:
    def test_message_names_op_parameter_and_value(self) -> None:
        with pytest.raises(ValueError, match=r"resize_short\(size=-3\): size must be .*-3"):
            T.resize_short(size=-3)

    def test_bool_is_not_an_int(self) -> None:
        with pytest.raises(TypeError, match="size"):
            T.resize_short(size=True)

    def test_numpy_ints_are_accepted(self) -> None:
        assert T.resize_short(size=np.int64(5)).size == 5

    def test_unknown_parameter_is_a_type_error(self) -> None:
        with pytest.raises(TypeError, match="foo"):
            T.resize(h=1, w=1, foo=2)  # type: ignore[call-arg]

    def test_positional_use_of_keyword_only_parameter(self) -> None:
        with pytest.raises(TypeError):
            T.center_crop(224, 224)  # type: ignore[misc]

    def test_enumerations_are_case_sensitive(self) -> None:
        with pytest.raises(ValueError, match="mode"):
            D.image(mode="RGB")

    def test_normalize_lengths_must_match(self) -> None:
        with pytest.raises(ValueError, match="equal lengths"):
            T.normalize(mean=[0.5, 0.5], std=[0.2])

    def test_ops_are_immutable(self) -> None:
        op = T.resize_short(size=3)
        with pytest.raises(dataclasses.FrozenInstanceError):
            op.size = 4  # type: ignore[misc]

    def test_ops_have_no_truth_value(self) -> None:
        with pytest.raises(TypeError):
            bool(T.hflip())


class TestPipelineValidation:
    def test_needs_a_slot(self) -> None:
        with pytest.raises(dataio.PlanError, match="at least one slot"):
            dataio.pipeline(dataio.batch(2))

    def test_needs_exactly_one_shape_stage(self) -> None:
        s = dataio.slot("x").decode_bytes()
        with pytest.raises(dataio.PlanError, match="shape stage"):
            dataio.pipeline(s)
        with pytest.raises(dataio.PlanError, match="more than one shape stage"):
            dataio.pipeline(s, dataio.batch(2), dataio.collate())

    def test_slot_after_shape_stage(self) -> None:
        with pytest.raises(dataio.PlanError, match="after the shape stage"):
            dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.batch(2), dataio.slot("y").decode_bytes())

    def test_duplicate_slot_names(self) -> None:
        with pytest.raises(dataio.PlanError, match="duplicate slot name 'x'"):
            dataio.pipeline(dataio.slot("x").decode_bytes(), dataio.slot("x").decode_bytes(), dataio.batch(2))

    def test_slot_without_decoder(self) -> None:
        with pytest.raises(dataio.PlanError, match="no decoder"):
            dataio.pipeline(dataio.slot("x"), dataio.batch(2))

    def test_unbound_chain_is_refused(self) -> None:
        with pytest.raises(dataio.PlanError, match="unbound"):
            dataio.pipeline(dataio.chain().decode_bytes(), dataio.batch(2))

    def test_other_objects_are_type_errors(self) -> None:
        with pytest.raises(TypeError, match="stage 1"):
            dataio.pipeline(dataio.slot("x").decode_bytes(), "batch")

    def test_incompatible_op_input_fails_at_pipeline(self) -> None:
        with pytest.raises(dataio.PlanError, match=r"slot 'image', op 1 \(resize_short\)"):
            dataio.pipeline(dataio.slot("image").decode(D.image()).resize_short(8), dataio.batch(2))

    def test_decoder_after_transform(self) -> None:
        with pytest.raises(ValueError):
            dataio.slot("x").apply(T.hflip()).decode_bytes()

    def test_python_callable_in_slot_points_to_map(self) -> None:
        with pytest.raises(TypeError, match="map"):
            dataio.slot("x").decode_bytes().apply(lambda v: v)  # type: ignore[arg-type]


class TestBuilders:
    def test_builders_return_new_objects(self) -> None:
        base = dataio.slot("image").decode_image()
        longer = base.resize_short(10)
        assert base.transforms == () and len(longer.transforms) == 1

    def test_slots_using_chain(self) -> None:
        shared = dataio.chain().decode_image().resize(h=8, w=8)
        pipe = dataio.pipeline(dataio.slots(["a", "b"]).using(shared), dataio.batch(2))
        assert pipe.plan.slot_names == ["a", "b"]

    def test_slots_rejects_a_bare_string(self) -> None:
        with pytest.raises(TypeError):
            dataio.slots("ab")

    def test_normalize_shorthand_lowers_to_one_fused_op(self) -> None:
        plan = quickstart().plan
        last = plan.slots[0].transforms[-1]
        assert last.qualname == "transforms.normalize_chw_from_hwc_u8"
        assert plan.slots[0].output.describe() == "CHW float32 [3, 224, 224]"

    def test_custom_op_identity(self) -> None:
        @dataio.custom_op(name="tag", version="2")
        def tag(record: dict) -> dict:
            return record

        assert tag.describe() == {"name": "tag", "version": "2"}
        assert tag({"a": 1}) == {"a": 1}


class TestSignature:
    def test_independent_of_prefetch(self) -> None:
        assert quickstart(prefetch=2).signature == quickstart(prefetch=8).signature

    def test_depends_on_parameters(self) -> None:
        assert quickstart(size=32).signature != quickstart(size=64).signature

    def test_stable_across_processes_and_hash_seeds(self) -> None:
        code = ("import dataio; print(dataio.pipeline(dataio.slot('image').decode_image().resize_short(256)"
                ".center_crop(h=224, w=224).normalize('imagenet'), dataio.batch(64, prefetch=4)).signature)")
        seen = set()
        for hash_seed in ("0", "1", "12345"):
            env = {**os.environ, "PYTHONHASHSEED": hash_seed}
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
            seen.add(out.stdout.strip())
        assert seen == {quickstart().signature}


class TestExplain:
    def test_names_executor_and_kernel_per_op(self) -> None:
        text = quickstart().explain(device="cpu")
        assert "cpu_fallback" in text
        for op in ("decoders.image", "transforms.resize_short", "transforms.center_crop"):
            line = next(line for line in text.splitlines() if op in line)
            assert "cpu" in line and ("Pillow" in line or "numpy" in line or "view" in line)

    def test_every_registered_op_has_a_cpu_kernel(self) -> None:
        from dataio.cpu_fallback.kernels import KERNELS

        missing = sorted(set(OP_REGISTRY) - set(KERNELS))
        assert not missing, f"ops without a CPU kernel: {missing}"


def test_type_checkers_see_every_shorthand_method() -> None:
    """The ``TYPE_CHECKING`` declarations in ``SlotStage`` list exactly the methods attached from the registry."""
    import ast
    import inspect

    import dataio.dsl as dsl

    attached = {n for n, v in vars(dsl.SlotStage).items() if inspect.isfunction(v) and v.__code__.co_name == "method"}
    (klass,) = [n for n in ast.parse(inspect.getsource(dsl)).body if isinstance(n, ast.ClassDef)
                and n.name == "SlotStage"]
    (block,) = [n for n in klass.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    assert {f.name for f in block.body if isinstance(f, ast.FunctionDef)} == attached
