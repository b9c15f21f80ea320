"""``rllab classify``: train / eval / predict (see `rllab.classify`)."""
from __future__ import annotations

import argparse

from rllab.cli_common import add_eval_args, add_train_args, emit_json, nonneg_int, positive_float, positive_int
from rllab.data import DATA_DIR_ENV, DATASETS

_DATA_HELP = f"folder or file holding the dataset (default: ${DATA_DIR_ENV}, then Keras' cache/download)"


def register(subparsers) -> None:
    group = subparsers.add_parser(
        "classify", help="train, evaluate and use MNIST / Fashion-MNIST classifiers",
        description="Image classifiers on MNIST and Fashion-MNIST: the Keras tutorial's MLP and a small CNN.",
    )
    commands = group.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser("train", help="train a classifier and keep its best epoch",
                                description="Train a classifier; the best epoch (by validation accuracy) is saved as "
                                            "artifacts/model.keras, loadable with keras.models.load_model.")
    train.add_argument("--dataset", choices=sorted(DATASETS), default="fashion_mnist", help="dataset (default: fashion_mnist)")
    train.add_argument("--model", choices=("mlp", "cnn"), default="mlp",
                       help="mlp: Flatten-Dense(128)-Dense(10), the Keras tutorial; cnn: small conv net (default: mlp)")
    train.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                       help="passes over the training set (default: 10); with --resume, the new total")
    train.add_argument("--batch-size", type=positive_int, default=None, metavar="N", help="images per step (default: 32 mlp, 128 cnn)")
    train.add_argument("--learning-rate", type=positive_float, default=1e-3, metavar="LR", help="Adam step size (default: 0.001)")
    train.add_argument("--validation-size", type=nonneg_int, default=5000, metavar="N",
                       help="training images held out to choose the best epoch; 0 keeps the last (default: 5000)")
    train.add_argument("--train-limit", type=positive_int, default=None, metavar="N", help="train on the first N images only (quick tries)")
    train.add_argument("--data-dir", default=None, metavar="PATH", help=_DATA_HELP)
    add_train_args(train, "classify")
    train.set_defaults(func=_train)

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
    from rllab.classify import ClassifierConfig, train_classifier

    if args.resume:
        config = None
    else:
        config = ClassifierConfig(
            dataset=args.dataset, model=args.model, epochs=args.epochs, batch_size=args.batch_size,
            learning_rate=args.learning_rate, validation_size=args.validation_size, train_limit=args.train_limit,
        )
    results = train_classifier(
        config, run_dir=args.run_dir, seed=args.seed, resume=args.resume, data_path=args.data_dir,
        epochs_override=args.epochs if args.resume else None,
    )
    print(f"test accuracy {results['test_accuracy']:.4f} ({results['dataset']}, {results['model']}, "
          f"{results['seconds_per_epoch']:.1f} s/epoch); model saved to {results['model_path']}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from rllab.classify import evaluate_classifier

    figures = evaluate_classifier(args.run_dir, data_path=args.data_dir)
    print(f"{figures['dataset']} {figures['model']}: test accuracy {figures['test_accuracy']:.4f}, "
          f"loss {figures['test_loss']:.4f} on {figures['test_images']} images")
    if args.json:
        emit_json(figures)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from rllab.classify import predict_images

    predictions = predict_images(args.run_dir, args.images, top=args.top, invert=args.invert)
    for item in predictions:
        shown = ", ".join(f"{name} {p:.3f}" for name, p in item["top"])
        print(f"{item['image']}: {shown}")
    if args.json:
        emit_json(predictions)
    return 0
