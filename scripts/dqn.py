"""`python scripts/dqn.py train --env CartPole-v1 ...` == `rllab dqn train --env CartPole-v1 ...`."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from rllab.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["dqn", *sys.argv[1:]]))
