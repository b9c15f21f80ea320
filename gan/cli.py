"""``rllab gan train | sample | interpolate | eval``.

Imports no TensorFlow at import time (``rllab --help`` stays fast): the handlers import `gan.train`.
Every `GANConfig` field is a ``train`` flag whose help text is the field's docstring.
"""
from __future__ import annotations

import argparse

from gan.config import ARCHS, BUDGET_FIELDS, INFO_PRIORS, GANConfig, config_from_flags, per_arch_defaults
from rllab.cli_common import (NONE, add_config_flags, add_eval_args, add_train_args, emit_json, nonneg_int, positive_float,
                               positive_fraction, positive_int)
from rllab.data import DATA_DIR_ENV, DATASETS
from rllab.distribute import add_strategy_args
from rllab.errors import UsageError

_DATA_HELP = f"folder or file holding the dataset (default: ${DATA_DIR_ENV}, then Keras' cache/download)"
_CLASSIFIER_HELP = ("a .keras classifier of 28x28 images in [0, 1] (10 logits) that judges the samples (default: the "
                    "dataset's CNN trained once by 'rllab classify' code into $RLLAB_CACHE_DIR/classifiers, "
                    "~/.cache/rllab by default)")


def _positive_minutes(text: str):
    if text.strip().lower() == NONE:
        return NONE
    try:
        return positive_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive number of minutes or 'none', got {text!r}") from None


_TRUNCATION_HELP = ("scale the noise by PSI, 0 < PSI <= 1 (the truncation trick: cleaner, less varied samples; the "
                    "InfoGAN category entries are left alone, so each kind of image keeps its share; default: 1, none)")


def _digit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a class 0-9, got {text!r}") from None
    if not 0 <= value <= 9:
        raise argparse.ArgumentTypeError(f"expected a class 0-9, got {text!r}")
    return value


def register(subparsers) -> None:
    group = subparsers.add_parser(
        "gan", help="GAN and DCGAN on MNIST",
        description="GANs on MNIST and Fashion-MNIST: a dense GAN, a CPU-sized DCGAN and the TensorFlow tutorial's "
                    "DCGAN, optionally class-conditional; samples judged by a classifier.",
    )
    commands = group.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train", help="train a GAN (writes a run folder)",
        description="Train a GAN with Keras fit(). Each epoch writes a grid of the same fixed noise to "
                    "artifacts/grids/, logs losses, D(x), D(G(z)) and the classifier metrics to metrics.csv, exports "
                    "artifacts/generator.keras and checkpoints. With no flags: a DCGAN on MNIST for 10 minutes.",
        epilog="Ctrl-C stops after the current batch; the same command with --resume continues after the last "
               "finished epoch, with the same fixed noise and data order.",
    )
    flags = add_config_flags(
        train, GANConfig,
        choices={"arch": ARCHS, "dataset": sorted(DATASETS), "info_prior": INFO_PRIORS},
        parsers={"minutes": _positive_minutes},
        defaults=per_arch_defaults() | {"epochs": "none (until --minutes runs out)",
                                        "minutes": "10; none when only --epochs is given"},
    )
    train.add_argument("--data-dir", default=None, metavar="PATH", help=_DATA_HELP)
    train.add_argument("--classifier", default=None, metavar="PATH", help=_CLASSIFIER_HELP)
    add_train_args(train, "gan", seed_help="seed of Python, NumPy and TensorFlow (weights, noise, data order)",
                   budget_flags=[flags.flags[name] for name in BUDGET_FIELDS])
    add_strategy_args(train)
    train.set_defaults(func=_train, config_flags=flags)

    sample = commands.add_parser(
        "sample", help="draw samples from a trained generator",
        description="Draw samples from artifacts/generator.keras of a run: one grid PNG (--out) and/or one PNG per "
                    "sample (--out-dir). A conditional run draws the class --digit, or every class in turn.")
    sample.add_argument("--run-dir", required=True, metavar="DIR", help="run folder written by 'gan train'")
    sample.add_argument("--n", type=positive_int, default=64, metavar="N", help="samples to draw (default: 64)")
    sample.add_argument("--out", default=None, metavar="PNG", help="write the samples as one grid PNG here")
    sample.add_argument("--out-dir", default=None, metavar="DIR", help="write each sample as its own PNG in this folder")
    sample.add_argument("--digit", type=_digit, default=None, metavar="D",
                        help="class to draw, 0-9 (conditional runs only; default: every class in turn)")
    sample.add_argument("--seed", type=nonneg_int, default=0, metavar="S", help="seed of the noise (default: 0)")
    sample.add_argument("--truncation", type=positive_fraction, default=1.0, metavar="PSI", help=_TRUNCATION_HELP)
    sample.set_defaults(func=_sample)

    walk = commands.add_parser(
        "interpolate", help="animate a walk through noise space",
        description="A GIF (or MP4) of --n generators' outputs side by side while their noise vectors move along "
                    "great circles through --points random points and back to the first (a seamless loop).")
    walk.add_argument("--run-dir", required=True, metavar="DIR", help="run folder written by 'gan train'")
    walk.add_argument("--out", required=True, metavar="PATH", help="output file ending in .gif or .mp4")
    walk.add_argument("--n", type=positive_int, default=16, metavar="N", help="walks shown side by side (default: 16)")
    walk.add_argument("--points", type=positive_int, default=4, metavar="K", help="random points each walk visits (default: 4)")
    walk.add_argument("--steps", type=positive_int, default=16, metavar="N", help="frames from one point to the next (default: 16)")
    walk.add_argument("--fps", type=positive_int, default=12, metavar="N", help="frames per second (default: 12)")
    walk.add_argument("--digit", type=_digit, default=None, metavar="D",
                      help="class of every walk, 0-9 (conditional runs only; default: walk i draws class i mod 10)")
    walk.add_argument("--seed", type=nonneg_int, default=0, metavar="S", help="seed of the points (default: 0)")
    walk.add_argument("--truncation", type=positive_fraction, default=1.0, metavar="PSI", help=_TRUNCATION_HELP)
    walk.set_defaults(func=_interpolate)

    evaluate = commands.add_parser(
        "eval", help="judge a run's generator: classifier score, Fréchet distance, mode coverage",
        description="Classifier score (with real test images' score), Fréchet classifier distance to the test set "
                    "(with the 10k-train-vs-10k-test floor), class shares and, for conditional runs, how often the "
                    "class asked for is recognised.")
    add_eval_args(evaluate)
    evaluate.add_argument("--samples", type=positive_int, default=10_000, metavar="N", help="samples judged (default: 10000)")
    evaluate.add_argument("--seed", type=nonneg_int, default=0, metavar="S", help="seed of the noise (default: 0)")
    evaluate.add_argument("--truncation", type=positive_fraction, default=1.0, metavar="PSI", help=_TRUNCATION_HELP)
    evaluate.add_argument("--classifier", default=None, metavar="PATH", help=_CLASSIFIER_HELP)
    evaluate.add_argument("--data-dir", default=None, metavar="PATH", help=_DATA_HELP)
    evaluate.set_defaults(func=_eval)


def _train(args: argparse.Namespace) -> int:
    given = args.config_flags.given(args)
    if given.get("epochs") is not None and "minutes" not in given:
        given["minutes"] = None  # --epochs alone: no time limit
    config = config_from_flags(given)
    from gan.train import train_gan

    train_gan(config, run_dir=args.run_dir, seed=args.seed, resume=args.resume, given=given,
              data_path=args.data_dir, classifier=args.classifier, strategy=args.strategy, devices=args.devices)
    return 0


def _sample(args: argparse.Namespace) -> int:
    if args.out is None and args.out_dir is None:
        raise UsageError("say where the samples go: --out grid.png and/or --out-dir DIR")
    if args.out is not None and not args.out.lower().endswith(".png"):
        raise UsageError(f"--out must end in .png, got {args.out!r}")
    from gan.use import sample_images

    written = sample_images(args.run_dir, n=args.n, out=args.out, out_dir=args.out_dir, digit=args.digit, seed=args.seed,
                            truncation=args.truncation)
    print(written)
    return 0


def _interpolate(args: argparse.Namespace) -> int:
    from rllab.plotting import check_video_path

    check_video_path("--out", args.out)
    from gan.use import interpolate

    print(interpolate(args.run_dir, args.out, n=args.n, points=args.points, steps=args.steps, fps=args.fps,
                      digit=args.digit, seed=args.seed, truncation=args.truncation))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from gan.use import evaluate_run

    figures = evaluate_run(args.run_dir, samples=args.samples, seed=args.seed, classifier=args.classifier,
                           data_path=args.data_dir, truncation=args.truncation)
    if args.json:
        emit_json(figures)
    return 0
