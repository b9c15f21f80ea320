"""``rllab classify``: train / eval / predict (see `rllab.classify.train`). Imports no TensorFlow at import time."""
from __future__ import annotations

import argparse

from rllab.classify.config import MODEL_DEFAULTS, MODELS, ClassifierConfig
from rllab.cli_common import add_config_flags, add_eval_args, add_train_args, emit_json, nonneg_int, positive_float, positive_int
from rllab.data import DATA_DIR_ENV, DATASETS
from rllab.distribute import add_strategy_args

_DATA_HELP = f"folder or file holding the dataset (default: ${DATA_DIR_ENV}, then Keras' cache/download)"


def register(subparsers) -> None:
    group = subparsers.add_parser(
        "classify", help="train, evaluate and use MNIST / Fashion-MNIST classifiers",
        description="Image classifiers on MNIST and Fashion-MNIST: the Keras tutorial's MLP and a small CNN.",
    )
    commands = group.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser("train", help="train a classifier and keep its best epoch",
                                description="Train a classifier; the best epoch (by validation accuracy) is saved as "
                                            "artifacts/model.keras, loadable with keras.models.load_model.",
                                epilog="Ctrl-C stops after the current batch; the same command with --resume "
                                       "continues after the last finished epoch.")
    flags = add_config_flags(
        train, ClassifierConfig,
        choices={"dataset": sorted(DATASETS), "model": MODELS},
        parsers={"epochs": positive_int, "batch_size": positive_int, "learning_rate": positive_float,
                 "train_limit": positive_int, "validation_size": nonneg_int},
        defaults={name: "; ".join(f"{values[name]} for {model}" for model, values in MODEL_DEFAULTS.items())
                  for name in ("epochs", "batch_size")} | {"train_limit": "all images"},
    )
    train.add_argument("--data-dir", default=None, metavar="PATH", help=_DATA_HELP)
    add_train_args(train, "classify", seed_help="seed of Python, NumPy and TensorFlow (weights, shuffling)",
                   budget_flags=["--epochs"])
    add_strategy_args(train)
    train.set_defaults(func=_train, config_flags=flags)

    evaluate = commands.add_parser("eval", help="test-set accuracy of a trained run",
                                   description="Measure the saved model of a run on the dataset's 10,000 test images.")
    add_eval_args(evaluate)
    evaluate.add_argument("--data-dir", default=None, metavar="PATH", help=_DATA_HELP)
    evaluate.set_defaults(func=_eval)

    predict = commands.add_parser("predict", help="classify image files",
                                  description="Print the most likely classes of each image. PNG/JPG of any size or mode "
                                              "is converted to 28x28 grayscale (light object on dark, as in the datasets).")
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files to classify")
    predict.add_argument("--run-dir", required=True, metavar="DIR", help="run folder written by 'classify train'")
    predict.add_argument("--top", type=positive_int, default=3, metavar="K", help="classes shown per image (default: 3)")
    predict.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                         help="flip dark-on-light images; auto does it when the border is bright (default: auto)")
    predict.add_argument("--json", action="store_true", help="also print all predictions as one JSON line at the end")
    predict.set_defaults(func=_predict)


def _train(args: argparse.Namespace) -> int:
    from rllab.classify.train import train_classifier

    given = args.config_flags.given(args)
    results = train_classifier(ClassifierConfig(**given), run_dir=args.run_dir, seed=args.seed, resume=args.resume,
                               given=given, data_path=args.data_dir, strategy=args.strategy, devices=args.devices)
    print(f"test accuracy {results['test_accuracy']:.4f} ({results['dataset']}, {results['model']}, "
          f"{results['seconds_per_epoch']:.1f} s/epoch); model saved to {results['model_path']}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from rllab.classify.train import evaluate_classifier

    figures = evaluate_classifier(args.run_dir, data_path=args.data_dir)
    print(f"{figures['dataset']} {figures['model']}: test accuracy {figures['test_accuracy']:.4f}, "
          f"loss {figures['test_loss']:.4f} on {figures['test_images']} images")
    if args.json:
        emit_json(figures)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from rllab.classify.train import predict_images

    predictions = predict_images(args.run_dir, args.images, top=args.top, invert=args.invert)
    for item in predictions:
        shown = ", ".join(f"{name} {p:.3f}" for name, p in item["top"])
        print(f"{item['image']}: {shown}")
    if args.json:
        emit_json(predictions)
    return 0
