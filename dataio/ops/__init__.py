"""Op specs: decoders, transforms, batch transforms and predicates — pure, validated data.

Files:
    _base.py       the op model (``Op``, ``Decoder``, ``Transform``, ``BatchTransform``,
                   ``TensorSpec``) and the registry of op classes by qualified name
    _args.py       normalisers for per-record parameters (``Dim``, ``Float``)
    cond.py        ``col`` / ``Param`` and predicates (``Cond``)
    decoders.py    ``dataio.decoders``
    transforms.py  ``dataio.transforms``
    batch_transforms.py  ``dataio.batch_transforms``
"""
