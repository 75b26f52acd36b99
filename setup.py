"""Build of the optional C extension; everything else is declared in pyproject.toml.

``dataio.cpu_fallback._libjpeg`` binds libjpeg-turbo's region decoding (see its source).
It is optional: without a C compiler or the libjpeg headers (Debian: ``libjpeg-dev``) the
install goes on without it and the CPU fallback decodes JPEGs through simplejpeg or Pillow.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("dataio.cpu_fallback._libjpeg", ["cpu_fallback/_libjpeg.c"], libraries=["jpeg"], optional=True),
])
