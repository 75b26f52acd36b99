"""The IO and format commands of ``python -m dataio`` (docs/api.md §10): head, cat, ls, parquet, safetensors.

Each takes a path or URI and prints a human-readable summary, or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def human(size: int | None) -> str:
    """``1536`` → ``"1.5 KiB"``."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def add_arguments(commands: Any) -> None:
    """Register the commands on the ``python -m dataio`` sub-parsers."""
    head = commands.add_parser("head", help="metadata of an object or file")
    head.add_argument("uri")
    cat = commands.add_parser("cat", help="write an object's bytes to stdout or a file")
    cat.add_argument("uri")
    cat.add_argument("-o", "--output", help="write to this file instead of stdout")
    ls = commands.add_parser("ls", help="list every file or object below a prefix")
    ls.add_argument("uri")
    ls.add_argument("--long", action="store_true", help="prefix each line with its size")
    parquet = commands.add_parser("parquet", help="a parquet file's schema and row groups")
    parquet.add_argument("path")
    safetensors = commands.add_parser("safetensors", help="a safetensors file's tensors")
    safetensors.add_argument("path")
    for parser in (head, cat, ls, parquet, safetensors):
        parser.add_argument("--json", action="store_true", dest="json_after", help="print machine-readable JSON")


def _as_json(args: argparse.Namespace) -> bool:
    return bool(args.json or getattr(args, "json_after", False))


def head(args: argparse.Namespace) -> int:
    import dataclasses

    import dataio

    info = {k: v for k, v in dataclasses.asdict(dataio.head(args.uri)).items() if v not in (None, {}, "")}
    if _as_json(args):
        print(json.dumps(info, indent=2))
        return 0
    for key in ("url", "status", "content_length", "content_type", "etag", "last_modified", "http_version"):
        if key in info:
            value = info[key]
            shown = f"{value} ({human(value)})" if key == "content_length" else value
            print(f"{key:<15} {shown}")
    return 0


def cat(args: argparse.Namespace) -> int:
    import dataio

    if args.output:
        with dataio.writer(args.output) as writer:
            with dataio.stream(args.uri) as source:
                for chunk in source.iter_bytes(2**20):
                    writer.write(chunk)
        print(f"wrote {source.bytes_read} bytes to {args.output}", file=sys.stderr)
        return 0
    out = sys.stdout.buffer
    with dataio.stream(args.uri) as source:
        for chunk in source.iter_bytes(2**20):
            out.write(chunk)
    out.flush()
    return 0


def ls(args: argparse.Namespace) -> int:
    import dataio
    from dataio.io.resolve import locate

    local = locate(args.uri).is_local
    found = dataio.ls(args.uri)
    if not found and not (local and Path(args.uri).is_dir()):  # an empty directory lists nothing; a typo errs
        raise FileNotFoundError(f"{args.uri}: no such file or directory, and no object below that prefix")
    shown = [Path(p).resolve().as_uri() if local else p for p in found]
    if _as_json(args):
        print(json.dumps({"prefix": args.uri, "count": len(shown), "objects": shown}, indent=2))
        return 0
    for path, uri in zip(found, shown, strict=True):
        print(f"{human(dataio.head(path).content_length):>10}  {uri}" if args.long else uri)
    return 0


def parquet(args: argparse.Namespace) -> int:
    from dataio.formats.parquet import _parquet_file

    file = _parquet_file(args.path)
    meta = file.metadata
    if _as_json(args):
        print(json.dumps(meta.to_dict(), indent=2, default=str))
        return 0
    print(f"rows        {meta.num_rows}\nrow groups  {meta.num_row_groups}\nwriter      {meta.created_by}")
    print("columns:")
    for field in file.schema_arrow:
        print(f"  {field.name:<24} {str(field.type):<16} {'nullable' if field.nullable else 'required'}")
    print("row groups:")
    for index in range(meta.num_row_groups):
        group = meta.row_group(index)
        print(f"  {index:>4}  {group.num_rows:>10} rows  {human(group.total_byte_size):>10}")
    return 0


def safetensors(args: argparse.Namespace) -> int:
    import dataio
    from dataio.formats import safetensors as layout

    with dataio.open_safetensors(args.path) as session:
        header = session.header
    if _as_json(args):
        print(json.dumps(header, indent=2))
        return 0
    entries = {name: entry for name, entry in header.items() if name != "__metadata__"}
    print(f"{len(entries)} tensors")
    width = max((len(name) for name in entries), default=4)
    for name, entry in entries.items():
        size = layout.DTYPES[entry["dtype"]].itemsize if entry["dtype"] in layout.DTYPES else 1
        count = 1
        for dim in entry["shape"]:
            count *= dim
        print(f"  {name:<{width}}  {entry['dtype']:<6} {str(entry['shape']):<20} {human(count * size)}")
    return 0


COMMANDS = {"head": head, "cat": cat, "ls": ls, "parquet": parquet, "safetensors": safetensors}
