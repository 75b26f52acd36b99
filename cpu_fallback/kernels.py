"""The CPU fallback's kernel table: one kernel per op of ``dataio.decoders`` / ``dataio.transforms``.

Adding an op means one spec in ``dataio.ops`` and one entry here (a test checks that
every registered op has a CPU kernel).
"""

from __future__ import annotations

from dataio.executors import Kernel, KernelTable

from dataio.cpu_fallback import audio, augment, custom, detection, geometry, layout, payloads, pixels
from dataio.cpu_fallback.image_decode import decode_image

_RESAMPLE = "torch uint8 antialiased interpolate or Pillow Image.resize (fused box)"
_AFFINE = Kernel(pixels.channel_affine_kernel, "numpy multiply-add through a CHW view into the batch buffer")

KERNELS: dict[str, Kernel] = {
    "decoders.image": Kernel(decode_image, "plain JPEGs: dataio's libjpeg region decoder or simplejpeg when available; else Pillow (libjpeg-turbo)"),
    "decoders.bytes": Kernel(payloads.bytes_decoder, "numpy.frombuffer"),
    "decoders.text": Kernel(payloads.text_decoder, "bytes.decode (utf-8)"),
    "decoders.json": Kernel(payloads.json_decoder, "json.loads"),
    "decoders.npy": Kernel(payloads.npy_decoder, "numpy.load(allow_pickle=False)"),
    "decoders.safetensors": Kernel(payloads.safetensors_decoder, "header parse + numpy.frombuffer view"),
    "decoders.pt": Kernel(payloads.pt_decoder, "torch.load(weights_only=True)", requires=("torch",)),
    "decoders.passthrough": Kernel(payloads.passthrough_decoder, "the record value as is"),
    "decoders.audio": Kernel(audio.audio_decoder, "soundfile (libsndfile) + numpy resampling",
                             requires=("soundfile",)),
    "transforms.resize": Kernel(geometry.resize_kernel, _RESAMPLE),
    "transforms.resize_short": Kernel(geometry.resize_kernel, _RESAMPLE),
    "transforms.resize_long": Kernel(geometry.resize_kernel, _RESAMPLE),
    "transforms.fit_to_bucket": Kernel(geometry.fit_to_bucket_kernel, _RESAMPLE),
    "transforms.random_resized_crop": Kernel(geometry.random_resized_crop_kernel, f"view crop, then {_RESAMPLE}"),
    "transforms.center_crop": Kernel(geometry.center_crop_kernel, "view box / numpy slice (+zero pad)"),
    "transforms.crop": Kernel(geometry.crop_kernel, "view box / numpy slice"),
    "transforms.random_crop": Kernel(geometry.random_crop_kernel, "view box / numpy slice"),
    "transforms.hflip": Kernel(geometry.flip_kernel, "numpy.flip"),
    "transforms.vflip": Kernel(geometry.flip_kernel, "numpy.flip"),
    "transforms.normalize": Kernel(pixels.normalize_kernel, "numpy subtract/multiply in place"),
    "transforms.normalize_chw_from_hwc_u8": _AFFINE,
    "transforms.symmetric_chw": _AFFINE,
    "transforms.unit_chw": _AFFINE,
    "transforms.pack_chw_f32": _AFFINE,
    "transforms.cast": Kernel(pixels.cast_kernel, "numpy astype (saturating)"),
    "transforms.permute": Kernel(layout.permute_kernel, "numpy.transpose"),
    "transforms.reshape": Kernel(layout.reshape_kernel, "numpy.reshape"),
    "transforms.flatten": Kernel(layout.flatten_kernel, "numpy.reshape"),
    "transforms.squeeze": Kernel(layout.squeeze_kernel, "numpy.squeeze"),
    "transforms.unsqueeze": Kernel(layout.unsqueeze_kernel, "numpy.expand_dims"),
    "transforms.patchify": Kernel(layout.patchify_kernel, "numpy reshape/transpose"),
    "transforms.pad_axis": Kernel(layout.pad_axis_kernel, "numpy.pad"),
    "transforms.spectrogram": Kernel(audio.spectrogram_kernel, "numpy.fft.rfft on strided frames"),
    "transforms.mel_filterbank": Kernel(audio.mel_filterbank_kernel, "numpy matmul with HTK mel filters"),
    "transforms.mfcc": Kernel(audio.mfcc_kernel, "numpy rfft + mel + dB + DCT-II"),
    "transforms.bbox_hflip": Kernel(detection.bbox_flip_kernel, "numpy"),
    "transforms.bbox_vflip": Kernel(detection.bbox_flip_kernel, "numpy"),
    "transforms.bbox_pad": Kernel(detection.bbox_pad_kernel, "numpy"),
    "transforms.bbox_crop": Kernel(detection.bbox_crop_kernel, "numpy clip + mask"),
    "transforms.box_encoder": Kernel(detection.box_encoder_kernel, "numpy IoU matching + offset encoding"),
    "transforms.random_bbox_crop": Kernel(detection.random_bbox_crop_kernel, "numpy SSD window sampling"),
    "transforms.nms": Kernel(detection.nms_kernel, "numpy IoU matrix + greedy pass"),
    "transforms.soft_nms": Kernel(detection.soft_nms_kernel, "numpy Gaussian decay"),
    "transforms.custom": Kernel(custom.custom_kernel, "the user's Python function"),
    "transforms.rand_augment": Kernel(augment.rand_augment_kernel, "Pillow ImageOps/ImageEnhance/transform"),
    "transforms.auto_augment": Kernel(augment.auto_augment_kernel, "Pillow ImageOps/ImageEnhance/transform"),
    "transforms.trivial_augment_wide": Kernel(augment.trivial_augment_wide_kernel,
                                              "Pillow ImageOps/ImageEnhance/transform"),
}

from dataio.cpu_fallback import conditional as _conditional  # noqa: E402

KERNELS.update({
    "transforms.sometimes": Kernel(_conditional.sometimes_kernel, "arm via this table (one coin)"),
    "transforms.choice": Kernel(_conditional.choice_kernel, "one arm via this table"),
    "transforms.some_of": Kernel(_conditional.some_of_kernel, "n arms via this table"),
    "transforms.select": Kernel(_conditional.select_kernel, "first matching arm via this table"),
})

from dataio.cpu_fallback import batch_kernels as _batch  # noqa: E402

KERNELS.update({
    "batch_transforms.mixup": Kernel(_batch.mixup_kernel, "numpy in place (Beta λ, one permutation)"),
    "batch_transforms.cutmix": Kernel(_batch.cutmix_kernel, "numpy box paste in place"),
    "batch_transforms.pad_to_longest": Kernel(_batch.pad_to_longest_kernel, "numpy.full + row copies"),
    "batch_transforms.batch_normalize": Kernel(_batch.batch_normalize_kernel, "numpy in place"),
    "batch_transforms.batch_shuffle": Kernel(_batch.batch_shuffle_kernel, "numpy.take on every column"),
})

from dataio.cpu_fallback import photometric as _photometric  # noqa: E402

KERNELS.update(_photometric.KERNELS)

from dataio.cpu_fallback import spatial as _spatial  # noqa: E402

KERNELS.update(_spatial.KERNELS)

TABLE = KernelTable("cpu", KERNELS)
