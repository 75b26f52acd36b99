"""``python -m dataio``: see :mod:`dataio._cli`."""

from dataio._cli import main

raise SystemExit(main())
