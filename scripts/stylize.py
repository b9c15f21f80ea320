"""`python scripts/stylize.py CONTENT STYLE --out result.png ...` == `rllab style CONTENT STYLE --out result.png ...`."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from rllab.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["style", *sys.argv[1:]]))
