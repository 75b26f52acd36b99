"""``python -m dataio``: the command line of :mod:`dataio._cli`."""

from dataio._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
