"""dataio: a GPU-first data loader for ML training.

Declare a pipeline (slots of decode + transform ops, one shape stage), bind it to
records and iterate batches::

    import dataio

    pipe = dataio.pipeline(
        dataio.slot("image").decode_image(mode="rgb").resize_short(256)
              .center_crop(h=224, w=224).normalize("imagenet"),
        dataio.batch(64),
    )
    with pipe.bind(records).run("torch") as loader:
        for batch in loader:
            train_step(batch["image"])

The plan runs on the GPU executor (``dataio.gpu``) when a usable GPU stack is found
and on the CPU fallback (``dataio.cpu_fallback``: Pillow + numpy + threads) otherwise.
This module only re-exports; importing it loads neither torch, pyarrow, h5py nor any
GPU library.
"""

from dataio import batch_transforms, cond, decoders, transforms
from dataio._errors import (
    BackendUnavailable,
    DataIOError,
    DecodeError,
    DeviceUnavailable,
    PlanError,
    RowError,
)
from dataio._version import __version__
from dataio.sources.member_names import UnsafeMemberName
from dataio.device import gds_available, gds_info
from dataio.dsl import (
    BatchStage,
    CollateStage,
    CustomOp,
    GroupByStage,
    MapStage,
    Pipeline,
    SlotsBuilder,
    SlotStage,
    batch,
    chain,
    collate,
    custom_op,
    group_by,
    map,  # noqa: A004 - the contract's name
    pipeline,
    slot,
    slots,
)
from dataio.ops._base import BatchTransform, Decoder, Transform
from dataio.ops.cond import Cond, Param, col
from dataio.plan import Plan
from dataio.runtime.batch import Batch
from dataio.binding import BoundPipeline
from dataio.runtime.loader import DataLoader
from dataio.io import (
    HeadInfo, Reader, Stream, Writer, configure_credentials, configure_endpoint, configure_storage_options,
    configure_transport, delete, exists,
    glob, head, ls, read, reader, stream, write, writer,
)
from dataio.formats.arrays import read_numpy
from dataio.images import read_image
from dataio.gds import GdsBuffer, GdsFileHandle, gds_open, gds_read_into_tensor, gds_register_buffer
from dataio.formats.hdf5 import Hdf5Session, open_hdf5, read_hdf5
from dataio.formats.parquet import ParquetQuery, read_parquet, scan_parquet
from dataio.formats.tfrecord import iter_tfrecord
from dataio.formats.safetensors_files import (
    SafetensorsSession, open_safetensors, read_safetensors, write_safetensors,
)
from dataio.runtime.sharding import ShardSpec
from dataio.sources import (
    Archive, RecordSource, archive, files, from_callable, from_iterable, from_iterator, from_sampler, hf_dataset,
    manifest, urls, webdataset,
)

__all__ = [
    "pipeline", "slot", "slots", "chain", "batch", "collate", "group_by", "map", "custom_op", "col",
    "Pipeline", "SlotStage", "SlotsBuilder", "BatchStage", "CollateStage", "GroupByStage", "MapStage",
    "CustomOp", "Decoder", "Transform", "BatchTransform", "Cond", "Param", "Plan",
    "BoundPipeline", "DataLoader", "Batch", "ShardSpec",
    "RecordSource", "Archive", "archive", "webdataset", "from_callable", "from_iterable", "from_iterator", "hf_dataset",
    "from_sampler", "files", "urls", "manifest",
    "gds_available", "gds_info", "gds_open", "gds_register_buffer", "gds_read_into_tensor", "GdsBuffer",
    "GdsFileHandle",
    "read", "write", "head", "exists", "ls", "glob", "delete", "HeadInfo", "stream", "Stream",
    "reader", "Reader", "writer", "Writer",
    "configure_credentials", "configure_endpoint", "configure_storage_options", "configure_transport",
    "write_safetensors", "read_safetensors", "open_safetensors", "SafetensorsSession", "read_numpy", "read_image",
    "iter_tfrecord", "read_hdf5", "open_hdf5", "Hdf5Session", "read_parquet", "scan_parquet", "ParquetQuery",
    "DataIOError", "PlanError", "RowError", "DecodeError", "BackendUnavailable", "DeviceUnavailable",
    "UnsafeMemberName",
    "decoders", "transforms", "batch_transforms", "cond",
    "__version__",
]
