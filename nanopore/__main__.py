"""``python -m nanopore``: the ``nanopore`` command line."""

from nanopore.cli import main

if __name__ == "__main__":
    main()
