"""The op table is the one source: every op has a CPU kernel, graph nodes name real ops, each has a parity case."""

from __future__ import annotations

import dataio
from dataio.cpu_fallback.kernels import KERNELS
from dataio.executors import cpu_table, gpu_table
from dataio.gpu.nodes import GRAPH_NODES
from dataio.ops.table import NAMESPACES, OPS
from parity_cases import GRAPH_CHAINS, PARITY_CASES, graph_chain_pipeline


def test_every_op_has_a_cpu_kernel_and_nothing_else_is_registered() -> None:
    assert sorted(KERNELS) == sorted(OPS)


def test_graph_nodes_and_parity_cases_name_ops_of_the_table() -> None:
    assert set(GRAPH_NODES) <= set(OPS), sorted(set(GRAPH_NODES) - set(OPS))
    assert sorted(PARITY_CASES) == sorted(GRAPH_NODES), "every op with a graph node needs exactly one parity case"


def test_each_parity_case_runs_its_op_in_the_graph() -> None:
    for qualname, chain in PARITY_CASES.items():
        slot = graph_chain_pipeline(chain).plan.slots[0]
        assert qualname in {op.qualname for op in slot.ops}, (qualname, chain)
        assert gpu_table().place(qualname, slot)[0] == "gpu", (qualname, chain)
    assert set(PARITY_CASES.values()) <= set(GRAPH_CHAINS)


def test_the_table_covers_every_namespace_and_explain_reads_it() -> None:
    assert {q.split(".")[0] for q in OPS} == set(NAMESPACES)
    pipe = dataio.pipeline(dataio.slot("image").decode_image().resize_short(64).equalize()
                           .hflip(), dataio.batch(2))
    text = pipe.explain(device="cuda")
    hflip = next(line for line in text.splitlines() if "transforms.hflip" in line)
    assert " cpu " in hflip and cpu_table().labels["transforms.hflip"] in hflip  # the slot is not in the graph
    graph_text = dataio.pipeline(dataio.slot("image").decode_image().resize_short(64).hflip(),
                                 dataio.batch(2)).explain(device="cuda")
    hflip = next(line for line in graph_text.splitlines() if "transforms.hflip" in line)
    assert " gpu " in hflip and GRAPH_NODES["transforms.hflip"].label in hflip
