"""Thin wrapper: ``python scripts/classify.py train ...`` is ``rllab classify train ...``."""
import sys

from rllab.cli import main

if __name__ == "__main__":
    sys.exit(main(["classify", *sys.argv[1:]]))
