"""Build of the optional C extensions; everything else is declared in pyproject.toml.

- ``dataio.cpu_fallback._libjpeg`` binds libjpeg-turbo's region decoding (see its source);
  it needs libjpeg-turbo's headers (Debian: ``libjpeg-dev``).
- ``dataio.cpu_fallback._pixels``: the fused normalisation kernel; it needs only a C compiler.

Both are optional: where one cannot be built the install goes on without it and the CPU
fallback uses simplejpeg/Pillow and numpy instead (same results, slower).
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("dataio.cpu_fallback._libjpeg", ["cpu_fallback/_libjpeg.c"], libraries=["jpeg"], optional=True),
    Extension("dataio.cpu_fallback._pixels", ["cpu_fallback/_pixels.c"], optional=True),
])
