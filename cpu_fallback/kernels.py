"""The CPU fallback's kernels, registered against the op table (:mod:`dataio.ops.table`): one per op.

This is the one module that says which function runs which op on the CPU; adding an op
means its spec in ``dataio.ops``, its kernel in a module of this package, and one entry
here (``tests/test_op_table.py`` fails on an op without a kernel).
"""

from __future__ import annotations

from dataio.ops.table import Kernel

from dataio.cpu_fallback import (
    audio,
    augment,
    batch_kernels,
    custom,
    detection,
    geometric_kernels,
    layout,
    payloads,
    photometric,
    pixels,
    spatial,
)
from dataio.cpu_fallback.branches import conditional_kernels
from dataio.cpu_fallback.image_decode import decode_image

_RESAMPLE = "torch uint8 antialiased interpolate or Pillow Image.resize (fused box)"
_AFFINE = Kernel(pixels.channel_affine_kernel, "numpy multiply-add through a CHW view into the batch buffer")

KERNELS: dict[str, Kernel] = {
    "decoders.image": Kernel(decode_image, "plain JPEGs: dataio's libjpeg region decoder or simplejpeg when "
                                           "available; else Pillow (libjpeg-turbo)"),
    "decoders.bytes": Kernel(payloads.bytes_decoder, "numpy.frombuffer"),
    "decoders.text": Kernel(payloads.text_decoder, "bytes.decode (utf-8)"),
    "decoders.json": Kernel(payloads.json_decoder, "json.loads"),
    "decoders.npy": Kernel(payloads.npy_decoder, "numpy.load(allow_pickle=False)"),
    "decoders.safetensors": Kernel(payloads.safetensors_decoder, "header parse + numpy.frombuffer view"),
    "decoders.pt": Kernel(payloads.pt_decoder, "torch.load(weights_only=True)", requires=("torch",)),
    "decoders.passthrough": Kernel(payloads.passthrough_decoder, "the record value as is"),
    "decoders.scalar": Kernel(payloads.scalar_decoder, "the record's number, or its text parsed, as a 0-d array"),
    "decoders.audio": Kernel(audio.audio_decoder, "soundfile (libsndfile) + numpy resampling",
                             requires=("soundfile",)),
    "transforms.resize": Kernel(geometric_kernels.resize_kernel, _RESAMPLE),
    "transforms.resize_short": Kernel(geometric_kernels.resize_kernel, _RESAMPLE),
    "transforms.resize_long": Kernel(geometric_kernels.resize_kernel, _RESAMPLE),
    "transforms.fit_to_bucket": Kernel(geometric_kernels.fit_to_bucket_kernel, _RESAMPLE),
    "transforms.random_resized_crop": Kernel(geometric_kernels.random_resized_crop_kernel,
                                             f"view crop, then {_RESAMPLE}"),
    "transforms.center_crop": Kernel(geometric_kernels.center_crop_kernel, "view box / numpy slice (+zero pad)"),
    "transforms.crop": Kernel(geometric_kernels.crop_kernel, "view box / numpy slice"),
    "transforms.random_crop": Kernel(geometric_kernels.random_crop_kernel, "view box / numpy slice"),
    "transforms.hflip": Kernel(geometric_kernels.flip_kernel, "numpy.flip"),
    "transforms.vflip": Kernel(geometric_kernels.flip_kernel, "numpy.flip"),
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
    "transforms.rand_augment": Kernel(augment.policy_kernel, "Pillow ImageOps/ImageEnhance/transform"),
    "transforms.auto_augment": Kernel(augment.policy_kernel, "Pillow ImageOps/ImageEnhance/transform"),
    "transforms.trivial_augment_wide": Kernel(augment.policy_kernel,
                                              "Pillow ImageOps/ImageEnhance/transform"),
    # photometric
    "transforms.color_jitter": Kernel(photometric.color_jitter_kernel, "Pillow ImageEnhance + HSV hue shift"),
    "transforms.grayscale": Kernel(photometric.grayscale_kernel, "numpy integer luma (Pillow weights)"),
    "transforms.gaussian_blur": Kernel(photometric.gaussian_blur_kernel, "numpy separable Gaussian"),
    "transforms.gaussian_noise": Kernel(photometric.gaussian_noise_kernel,
                                        "numpy integer hash + Box-Muller per element (the record's key)"),
    "transforms.invert": Kernel(photometric.invert_kernel, "numpy"),
    "transforms.solarize": Kernel(photometric.solarize_kernel, "numpy.where"),
    "transforms.posterize": Kernel(photometric.posterize_kernel, "numpy bit mask"),
    "transforms.equalize": Kernel(photometric.equalize_kernel, "numpy histogram LUT (OpenCV equalizeHist arithmetic)"),
    "transforms.sharpen": Kernel(photometric.sharpen_kernel, "numpy unsharp mask"),
    "transforms.median_blur": Kernel(photometric.median_blur_kernel, "numpy sliding_window_view + partition"),
    "transforms.canny": Kernel(photometric.canny_kernel, "numpy Sobel + NMS + hysteresis"),
    # spatial
    "transforms.pad": Kernel(spatial.pad_kernel, "numpy.pad"),
    "transforms.affine": Kernel(spatial.affine_kernel, "Pillow Image.transform(AFFINE)"),
    "transforms.random_affine": Kernel(spatial.random_affine_kernel, "Pillow Image.transform(AFFINE)"),
    "transforms.random_perspective": Kernel(spatial.random_perspective_kernel, "Pillow Image.transform(PERSPECTIVE)"),
    "transforms.random_erasing": Kernel(spatial.random_erasing_kernel, "numpy slice assignment"),
    "transforms.grid_mask": Kernel(spatial.grid_mask_kernel, "numpy rotated-grid mask (numpy.where)"),
    # batch transforms (numpy or cupy columns: see batch_kernels)
    "batch_transforms.mixup": Kernel(batch_kernels.mixup_kernel, "numpy in place (Beta λ, one permutation)"),
    "batch_transforms.cutmix": Kernel(batch_kernels.cutmix_kernel, "numpy box paste in place"),
    "batch_transforms.pad_to_longest": Kernel(batch_kernels.pad_to_longest_kernel, "numpy.full + row copies"),
    "batch_transforms.batch_normalize": Kernel(batch_kernels.batch_normalize_kernel, "numpy in place"),
    "batch_transforms.batch_shuffle": Kernel(batch_kernels.batch_shuffle_kernel, "numpy.take on every column"),
}
KERNELS.update(conditional_kernels(KERNELS))  # their arms run through this same table
