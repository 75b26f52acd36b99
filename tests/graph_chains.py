"""Chains the DALI graph takes, one per GPU kernel at least: parity checks in CPU mode (CI) and on a device."""

from __future__ import annotations

import dataio
from dataio import transforms as T

LEVELS = 255 * 0.226  # one 8-bit level after ImageNet normalisation (mean std)
IMAGENET_LEVEL, UNIT_LEVEL, SYMMETRIC_LEVEL = 1 / LEVELS, 1 / 255, 2 / 255  # one 8-bit level in each range
GRAPH_CHAINS = {  # name -> (chain, one 8-bit level in its output); together every op of gpu/kernels.py
    "resize+normalize": (lambda s: s.resize(h=64, w=80).normalize("imagenet"), IMAGENET_LEVEL),
    "resize_short+center_crop": (lambda s: s.resize_short(96).center_crop(h=80, w=80).normalize("imagenet"),
                                 IMAGENET_LEVEL),
    "resize_long+crop+unit": (lambda s: s.resize_long(120).crop(y=4, x=6, h=60, w=50).apply(T.unit_chw()),
                              UNIT_LEVEL),
    "fit_to_bucket+symmetric": (lambda s: s.fit_to_bucket(h=64, w=96).apply(T.symmetric_chw()), SYMMETRIC_LEVEL),
    "random_resized_crop+hflip": (lambda s: s.random_resized_crop(h=64, w=48).hflip().normalize("imagenet"),
                                  IMAGENET_LEVEL),
    "random_crop+vflip+pack": (lambda s: s.resize_short(96).random_crop(h=80, w=80).vflip(prob=0.5)
                               .apply(T.pack_chw_f32(scale=1 / 255, bias=-0.5)), UNIT_LEVEL),
    "window only": (lambda s: s.center_crop(h=200, w=120).normalize("imagenet"), IMAGENET_LEVEL),
    "decoder normalize": (None, SYMMETRIC_LEVEL),
}


def graph_chain_pipeline(name: str) -> dataio.Pipeline:
    chain, _ = GRAPH_CHAINS[name]
    if chain is None:  # the decoder's own normalize + CHW, no transforms: rows keep their sizes
        slot = dataio.slot("image").decode_image(normalize="symmetric", layout="chw")
    else:
        slot = chain(dataio.slot("image").decode_image())
    return dataio.pipeline(slot, dataio.batch(8))
