"""The ``ieegrsa`` command.

The BIDS-App (BIDS-Apps convention, as fMRIPrep and MRIQC):

- ``ieegrsa BIDS_DIR OUTPUT_DIR participant [--participant-label L ...] [options]``: per patient,
  preprocessing, contacts, neural and model RDMs, similarity table and ``sub-<L>.html``.
- ``ieegrsa BIDS_DIR OUTPUT_DIR group [options]``: statistics across patients and ``group.html``.

Utility sub-commands beside it:

- ``ieegrsa simulate OUT_DIR``: write a realistic synthetic face-iEEG BIDS dataset.
- ``ieegrsa demo OUT_DIR``: simulate the ``tiny`` dataset and run the pipeline on it.
- ``ieegrsa check BIDS_DIR``: load every recording as the pipeline would and summarise it.
- ``ieegrsa validate-config FILE``: check a configuration file and print it resolved.
- ``ieegrsa probe STIMULI OUT_DIR --network NAME``: probe a network and its controls
  (transfer readouts, expression-selective units, congruence, categorical perception).
- ``ieegrsa models list`` / ``ieegrsa models layers NAME``: the feature extractors (built-in,
  torchvision and plugins) and the layers of one of them.

Bad input ends with one message on stderr and exit status 2, never a traceback. This module only
parses arguments and calls the library; heavy imports happen inside the commands so that
``ieegrsa --help`` starts fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import __version__
from .errors import IeegrsaError

logger = logging.getLogger("ieegrsa")

EXIT_BAD_INPUT = 2
SUBCOMMANDS = ("simulate", "demo", "check", "validate-config", "models", "probe", "train")


def main(argv=None) -> int:
    """Run the command line; return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and not argv[0].startswith("-") and argv[0] not in SUBCOMMANDS:
        args = build_app_parser().parse_args(argv)
    else:
        args = build_parser().parse_args(argv)
    restore_logging = _setup_logging(args.verbose)
    import matplotlib

    matplotlib.use("Agg")  # figures go to files; only the command line chooses the backend
    try:
        return args.func(args)
    except IeegrsaError as err:
        print(f"ieegrsa: error: {as_cli_message(err)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("ieegrsa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0
    finally:
        restore_logging()


def build_app_parser() -> argparse.ArgumentParser:
    """The parser of the BIDS-App form, ``ieegrsa BIDS_DIR OUTPUT_DIR {participant,group}``."""
    parser = argparse.ArgumentParser(
        prog="ieegrsa",
        usage="ieegrsa BIDS_DIR OUTPUT_DIR {participant,group} [options]",
        description="Run the analysis on a BIDS dataset (read only) and write BIDS derivatives "
        "and HTML reports to OUTPUT_DIR. First the participant level (each patient on its own, "
        "in parallel), then the group level (statistics across patients).",
    )
    parser.add_argument("bids_dir", type=Path, help="root of the BIDS dataset (never written)")
    parser.add_argument("output_dir", type=Path,
                        help="derivatives folder to write (e.g. BIDS_DIR/derivatives/ieegrsa)")
    parser.add_argument("analysis_level", choices=["participant", "group"],
                        help="participant: per-patient RSA; group: statistics across patients")
    parser.add_argument("--participant-label", nargs="+", metavar="LABEL",
                        help="participants to run, with or without 'sub-' (default: all)")
    parser.add_argument("--session-label", default=None, metavar="LABEL",
                        help="session to analyse (default: the one holding the task)")
    parser.add_argument("--task", default=None,
                        help="task label (default: bids.task of the configuration, 'faces')")
    parser.add_argument("--config", type=Path, default=None,
                        help="configuration YAML (see `ieegrsa validate-config`)")
    parser.add_argument("--work-dir", type=Path, default=None, metavar="DIR",
                        help="scratch folder; network features are cached in DIR/features and "
                        "shared across patients (default: models.cache_dir)")
    parser.add_argument("--n-jobs", type=int, default=None, metavar="N",
                        help="patients processed at once (-1: all cores; default: n_jobs of "
                        "the configuration, 1)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="address of a Dask distributed scheduler to run the patients on "
                        "(e.g. tcp://10.0.0.5:8786; needs ieegrsa[dask])")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--skip-existing", action="store_true",
                       help="skip participants whose outputs of the same configuration are "
                       "complete")
    again.add_argument("--overwrite", action="store_true",
                       help="replace outputs made with a different configuration")
    parser.add_argument("--reports-only", action="store_true",
                        help="only rebuild the HTML reports from existing outputs")
    parser.add_argument("--version", action="version", version=f"ieegrsa {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v: info, -vv: debug)")
    parser.set_defaults(func=_cmd_app)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ieegrsa`` command (all sub-commands)."""
    parser = argparse.ArgumentParser(
        prog="ieegrsa",
        description="Representational similarity analysis of face-viewing intracranial EEG "
        "(sEEG/ECoG) against identity- and expression-trained deep networks, on a BIDS dataset."
        "\n\nThe analysis: ieegrsa BIDS_DIR OUTPUT_DIR {participant,group} [options] (below). "
        "Utilities: ieegrsa COMMAND ...",
        epilog="The analysis itself: " + build_app_parser().format_help().split("\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ieegrsa {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v: info, -vv: debug)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    simulate = commands.add_parser(
        "simulate", parents=[common], help="write a synthetic face-iEEG BIDS dataset",
        description="Write a realistic synthetic face-viewing iEEG BIDS dataset with a planted "
        "representational geometry (ground truth under sourcedata/simulation/).",
    )
    simulate.add_argument("out_dir", type=Path,
                          help="folder to create (must not exist or be empty)")
    simulate.add_argument("--preset", default="tiny",
                          help="dataset size: tiny (2 patients, seconds) or paper (11 patients)")
    simulate.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    simulate.add_argument(
        "--effect", default="classical",
        help="planted geometry: classical (ventral identity, lateral expression), identity, "
        "expression, none, or e.g. 'ventral=identity,lateral=expression'",
    )
    simulate.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    simulate.add_argument(
        "--anatomy", default="mni", choices=("mni", "labels", "t1w", "transform", "native"),
        help="where the contacts are given: mni (default), or each patient's ACPC space placed "
        "by labels (a destrieux column), t1w (a T1w to register), transform (a lab transform "
        "under derivatives/) or native (nothing places them)")
    simulate.set_defaults(func=_cmd_simulate)

    demo = commands.add_parser(
        "demo", parents=[common], help="simulate a tiny dataset and analyse it",
        description="Simulate the tiny dataset under OUT_DIR/bids and run the pipeline on it, "
        "writing derivatives under OUT_DIR/derivatives/ieegrsa.",
    )
    demo.add_argument("out_dir", type=Path, help="folder for the dataset and the results")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--overwrite", action="store_true", help="replace an earlier demo")
    demo.set_defaults(func=_cmd_demo)

    check = commands.add_parser(
        "check", parents=[common], help="check that ieegrsa can read a BIDS dataset",
        description="Load every participant's recording of the task as the pipeline would (the "
        "dataset is only read) and print one line per recording; exit 2 on the first problem.",
    )
    check.add_argument("bids_dir", type=Path, help="root of the BIDS dataset")
    check.add_argument("--participant-label", nargs="+", metavar="LABEL",
                       help="participants to check (default: all)")
    check.add_argument("--session-label", default=None, help="session to check")
    check.add_argument("--task", default=None, help="task label (default: bids.task, 'faces')")
    check.add_argument("--config", type=Path, default=None, help="configuration YAML file")
    check.set_defaults(func=_cmd_check)

    validate = commands.add_parser(
        "validate-config", parents=[common], help="check a configuration file",
        description="Check a configuration YAML and print the resolved configuration "
        "(every field, defaults filled in).",
    )
    validate.add_argument("config", type=Path, nargs="?", default=None,
                          help="configuration YAML (omit to print the defaults)")
    validate.set_defaults(func=_cmd_validate_config)

    models = commands.add_parser(
        "models", parents=[common], help="list feature extractors and their layers",
        description="The networks ieegrsa can extract features from: built-in face networks, "
        "every torchvision classification model, and plugins (entry-point group "
        "ieegrsa.extractors).",
    )
    models_commands = models.add_subparsers(dest="models_command", metavar="ACTION",
                                            required=True)
    listing = models_commands.add_parser("list", parents=[common],
                                         help="print every extractor name")
    listing.set_defaults(func=_cmd_models_list)
    layers = models_commands.add_parser(
        "layers", parents=[common], help="print the layers of one extractor",
        description="Print the selectable layers of an extractor in network depth order; "
        "default layers are marked with '*'.",
    )
    layers.add_argument("name", help="extractor name (see `ieegrsa models list`)")
    layers.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="extractor option, e.g. num_classes=7 (repeatable)")
    layers.set_defaults(func=_cmd_models_layers)

    train = commands.add_parser(
        "train", parents=[common], help="train identity- or expression-trained face networks",
        description="Train N seeded instances of a face network on a lab's images (FER2013 CSV, "
        "CelebA folder, class folders or an image table) into OUT_DIR/instance-<k>/ (weights, "
        "manifest, per-epoch history, report); each weights file is a models.networks[].weights "
        "entry. Every option is also a key of the configuration's training section.",
    )
    train.add_argument("data", type=Path, help="the training images (file or folder)")
    train.add_argument("out_dir", type=Path, help="folder for the trained instances")
    train.add_argument("--objective", choices=("identity", "expression"), default=None)
    train.add_argument("--format", choices=("auto", "fer2013", "celeba", "folder", "table"),
                       default=None, help="layout of DATA (default: recognised)")
    train.add_argument("--architecture", default=None, help="default densenet_face")
    train.add_argument("--instances", type=int, default=None, help="default 10")
    train.add_argument("--epochs", type=int, default=None, help="default 100")
    train.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    train.add_argument("--seed", type=int, default=None, help="instance k gets SEED + k")
    train.add_argument("--resume", action="store_true",
                       help="continue interrupted instances and keep finished ones")
    train.add_argument("--config", type=Path, default=None, help="configuration YAML file")
    train.set_defaults(func=_cmd_train)

    probe = commands.add_parser(
        "probe", parents=[common], help="probe what a network learned about faces",
        description="Analyses of a network itself, for the trained weights and for controls "
        "of the same architecture: linear readouts of expression (identities held out) and "
        "identity (expressions held out) per layer, expression-selective units (two-way ANOVA "
        "per unit), congruence of identity and expression directions (Tucker's phi), and "
        "categorical perception along morph continua. Writes TSV tables with JSON sidecars and "
        "an HTML report to OUT_DIR.",
    )
    probe.add_argument("stimuli", type=Path,
                       help="TSV/CSV of face images: stim_file (relative to the table), "
                       "identity, expression; optional face crops: box_x0, box_y0, box_x1, "
                       "box_y1 (pixels) or landmarks (a landmark file per image)")
    probe.add_argument("out_dir", type=Path, help="folder for the tables and the report")
    probe.add_argument("--network", required=True,
                       help="extractor name (see `ieegrsa models list`)")
    probe.add_argument("--weights", default="random",
                       help="weights of the trained instance: a file or a name the extractor "
                       "knows (dlib, fer2013, IMAGENET1K_V1 ...); default random")
    probe.add_argument("--crop", choices=("auto", "aligned", "box", "none"), default="auto",
                       help="how faces are framed: auto = the network's own convention (dlib: "
                            "aligned chip; fer: face box; object networks: whole image)")
    probe.add_argument("--layers", nargs="+", default=None,
                       help="layers (default: the extractor's default set)")
    probe.add_argument("--control", nargs="+", default=["untrained"],
                       choices=["untrained", "object", "none"],
                       help="control instances: untrained (seeded random init) and/or object "
                       "(needs --object-weights); none for no control")
    probe.add_argument("--object-weights", default=None, metavar="FILE",
                       help="weights of an object-trained instance of the same architecture")
    probe.add_argument("--morphs", type=Path, default=None, metavar="TABLE_OR_DIR",
                       help="morph continuum: a table with stim_file, identity, level, or a "
                       "folder of ID-feXX-haYY images")
    probe.add_argument("--human-confusion", type=Path, default=None, metavar="CSV",
                       help="human confusion matrix over the expressions (first column: true "
                       "class; header: predicted classes)")
    probe.add_argument("--analyses", nargs="+", default=None,
                       choices=["readouts", "units", "congruence", "morphs"],
                       help="analyses to run (default: all)")
    probe.add_argument("--n-permutations", type=int, default=100, metavar="N",
                       help="permutations of every test (default 100)")
    probe.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    probe.add_argument("--C", type=float, default=1.0, dest="C",
                       help="inverse L2 penalty of the readouts (default 1)")
    probe.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                       help="extractor option, e.g. num_classes=7 (repeatable)")
    probe.add_argument("--cache-dir", default="auto",
                       help="feature cache (default: $IEEGRSA_CACHE or ~/.cache/ieegrsa)")
    probe.add_argument("--device", default="cpu", help="torch device (default cpu)")
    probe.set_defaults(func=_cmd_probe)
    return parser


#: Library parameters as the command line spells them: only the CLI knows its flags.
CLI_FLAGS = {
    "subjects": "--participant-label",
    "subject": "--participant-label",
    "session": "--session-label",
    "task": "--task",
    "config": "--config",
    "source": "--config",  # load_config's parameter: the configuration file
    "overwrite": "--overwrite",
    "skip_existing": "--skip-existing",
    "scheduler": "--scheduler",
    "work_dir": "--work-dir",
    "training.objective": "--objective",
    "training.device": "--device",
    "n_jobs": "--n-jobs",
    "bids_root": "BIDS_DIR",
    "output_dir": "OUTPUT_DIR",
}


def as_cli_message(err: IeegrsaError) -> str:
    """``err``'s message with the parameters it names turned into this command's flags."""
    import copy
    import re

    err = copy.copy(err)
    if err.field in CLI_FLAGS:
        err.field = CLI_FLAGS[err.field]
    if err.fix:
        # "set overwrite=True", "the subjects parameter" ... read as flags on the command line
        err.fix = re.sub(r"\bset (\w+)=True\b",
                         lambda m: f"pass {CLI_FLAGS[m.group(1)]}" if m.group(1) in CLI_FLAGS
                         else m.group(0), err.fix)
        err.fix = re.sub(r"\bthe (\w+) parameter\b",
                         lambda m: CLI_FLAGS.get(m.group(1), m.group(0)), err.fix)
        # "(task, or bids.task in the config)": the parameter, then its config key
        err.fix = re.sub(r"\((\w+), or ([\w.]+) in the config\)",
                         lambda m: f"({CLI_FLAGS.get(m.group(1), m.group(1))}, or "
                                   f"{m.group(2)} in the config)", err.fix)
    return err._message()


def _setup_logging(verbose: int):
    """Messages at WARNING (-v: INFO, -vv: DEBUG) on stderr, progress bars at every level;
    returns the function that puts the logger back as it was.

    The bars follow the ``ieegrsa`` logger's level (:mod:`ieegrsa._logging`), so the logger
    stays at INFO or below and a filter, not the level, keeps quieter messages out.
    """
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(format="%(levelname)s: %(message)s", level=level, stream=sys.stderr)
    old = logger.level
    quiet = _Below(level)
    logger.addFilter(quiet)
    logger.setLevel(min(level, logging.INFO))

    def restore():
        logger.removeFilter(quiet)
        logger.setLevel(old)

    return restore


class _Below(logging.Filter):
    """Drop the records below a level (the progress bars still see the logger's level)."""

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record) -> bool:
        return record.levelno >= self.level


def _cmd_simulate(args) -> int:
    from .simulate import make_dataset

    root = make_dataset(args.out_dir, preset=args.preset, seed=args.seed, effect=args.effect,
                        overwrite=args.overwrite, anatomy=args.anatomy)
    print(f"Simulated BIDS dataset written to {root}")
    return 0


def _cmd_check(args) -> int:
    from .config import load_config

    config = load_config(args.config)
    task = args.task or config.bids.task
    table = _load_all(args.bids_dir, config, task, args.participant_label, args.session_label)
    print(table.to_string(index=False))
    return 0


def _cmd_app(args) -> int:
    from .bids import check_bids_root
    from .bids.derivatives import participant_paths
    from .bids.discovery import strip_prefix
    from .config import load_config
    from .pipeline import run_group, run_participants

    bids_root = check_bids_root(args.bids_dir)
    output_dir = args.output_dir.resolve()
    if output_dir == bids_root.resolve():
        raise IeegrsaError("the output folder cannot be the input dataset",
                           field="OUTPUT_DIR", found=str(args.output_dir),
                           fix="write to a folder of its own, e.g. BIDS_DIR/derivatives/ieegrsa")
    overrides = {}
    if args.task:
        overrides["bids"] = {"task": args.task}
    if args.session_label:
        overrides.setdefault("bids", {})["session"] = strip_prefix(args.session_label, "ses-")
    if args.n_jobs is not None:
        overrides["n_jobs"] = args.n_jobs
    config = load_config(args.config, overrides=overrides or None)
    task = config.bids.task
    if args.analysis_level == "group":
        if args.reports_only:
            from .report import group_report

            print(f"Report: {group_report(output_dir, task=task)}")
            return 0
        outputs = run_group(output_dir, config)
        for kind, path in outputs.items():
            print(f"{kind}: {path}")
        return 0
    subjects = [strip_prefix(label, "sub-") for label in args.participant_label or []] or None
    if args.reports_only:
        from .bids import list_subjects
        from .report import participant_report

        for subject in subjects or list_subjects(bids_root):
            paths = participant_paths(output_dir, subject, task, config.bids.session)
            if paths["similarity"].exists():
                path = participant_report(output_dir, subject, task=task,
                                          session=config.bids.session)
                print(f"Report: {path}")
        return 0
    results = run_participants(
        bids_root, output_dir, subjects, config, scheduler=args.scheduler,
        work_dir=args.work_dir,
        skip_existing=args.skip_existing, overwrite=args.overwrite,
    )
    for row in results.itertuples():
        print(f"sub-{row.subject}: {row.status}")
    failed = results[results["status"].isin(["failed", "crashed"])]
    exceptions = results.attrs.get("exceptions", {})
    for row in failed.itertuples():
        error = exceptions.get(row.subject)
        text = as_cli_message(error) if error is not None else row.error
        print(f"ieegrsa: error: sub-{row.subject}: {text}", file=sys.stderr)
    print(f"Derivatives: {output_dir}")
    if (results["status"] == "crashed").any():
        return 1  # a bug, not bad input
    return EXIT_BAD_INPUT if len(failed) else 0


def _cmd_demo(args) -> int:
    from .pipeline import run_group, run_participants
    from .simulate import make_dataset

    out = args.out_dir
    bids_root = make_dataset(out / "bids", preset="tiny", seed=args.seed, overwrite=args.overwrite)
    derivatives = out / "derivatives" / "ieegrsa"
    # the default models: dlib's identity network, fer's expression network, an untrained
    # control of each, and the categorical identity and expression models
    config = {"random_seed": args.seed}
    results = run_participants(bids_root, derivatives, None, config, n_jobs=1,
                               work_dir=out / "work", overwrite=args.overwrite)
    failed = results[results["status"] == "failed"]
    if len(failed):
        raise IeegrsaError("the participant level failed", field="demo",
                           found="; ".join(failed["error"]), fix="report this as a bug")
    outputs = run_group(derivatives, config)
    _print_demo_summary(derivatives, outputs)
    print(f"\nDataset: {bids_root}\nDerivatives: {derivatives}")
    print("Reports: " + ", ".join(str(p) for p in sorted(derivatives.glob("*.html"))))
    return 0


def _print_demo_summary(derivatives, outputs) -> None:
    import pandas as pd

    clusters = outputs.get("clusters")
    if clusters is None:
        return
    table = pd.read_csv(clusters, sep="\t", na_values=["n/a"], keep_default_na=False)
    if table.empty:
        print("No cluster of windows in the group test.")
        return
    print("Group cluster tests (identity - expression):")
    print(table.to_string(index=False))


def _cmd_models_list(args) -> int:
    from .models import get_extractor, list_extractors

    for name in list_extractors():
        print(f"{name}\t{get_extractor(name).objective}")
    return 0


def _options(items) -> dict:
    """``KEY=VALUE`` options, values typed as YAML reads them (numbers, booleans)."""
    import yaml

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise IeegrsaError("an option must be KEY=VALUE", field="--option", found=item,
                               fix="write e.g. --option num_classes=7")
        options[key] = yaml.safe_load(value)
    return options


def _cmd_probe(args) -> int:
    from .pipeline.probe import write_probe
    from .probing.probe import ANALYSES, probe

    controls = [c for c in args.control if c != "none"]
    result = probe(args.network, args.stimuli, weights=args.weights, layers=args.layers,
                   controls=controls, object_weights=args.object_weights, morphs=args.morphs,
                   human_confusion=args.human_confusion,
                   analyses=args.analyses or ANALYSES, n_permutations=args.n_permutations,
                   seed=args.seed, C=args.C, cache_dir=args.cache_dir,
                   options=_options(args.option), device=args.device, crop=args.crop,
                   verbose=True if args.verbose else None)
    written = write_probe(result, args.out_dir)
    for kind, path in written.items():
        print(f"{kind}: {path}")
    return 0


def _cmd_models_layers(args) -> int:
    from .models import get_extractor

    extractor = get_extractor(args.name, **_options(args.option))
    defaults = set(extractor.default_layers())
    for layer in extractor.layers():
        print(f"{'*' if layer in defaults else ' '} {layer}")
    return 0


def _cmd_train(args) -> int:
    from .training import train_networks

    summary = train_networks(
        args.data, args.out_dir, args.config, objective=args.objective, format=args.format,
        architecture=args.architecture, instances=args.instances, epochs=args.epochs,
        seed=args.seed, device=args.device, resume=args.resume)
    for row in summary.itertuples():
        print(f"instance {row.instance}: validation accuracy {row.val_accuracy:.3f} "
              f"(chance {row.chance:.3f}) -> {args.out_dir / row.weights}")
    print(f"Report: {args.out_dir / 'report.html'}")
    return 0


def _cmd_validate_config(args) -> int:
    from .config import config_to_yaml, load_config

    print(config_to_yaml(load_config(args.config)), end="")
    return 0


def _load_all(bids_root, config, task, participants, session):
    """Load each participant's recording; return the table of their summaries."""
    import pandas as pd

    from .bids import list_subjects

    subjects = participants or list_subjects(bids_root)
    session = session or config.bids.session
    rows = []
    for subject in subjects:
        for each_session in _sessions(bids_root, subject, task, session):
            rows.append(_load_one(bids_root, subject, task, each_session, config))
    return pd.DataFrame(rows)


def _sessions(bids_root, subject, task, session):
    """The sessions to load: the one asked for, else every session holding the task."""
    from .bids.discovery import task_sessions

    if session is not None:
        return [session]
    return task_sessions(bids_root, subject, task) or [None]


def _load_one(bids_root, subject, task, session, config):
    from .anatomy.native import warp_plan
    from .pipeline import load_participant

    recording = load_participant(bids_root, subject, config, session=session, task=task)
    logger.info("loaded sub-%s: %s", subject, recording.raw)
    # native contacts: how the participant level would bring them to MNI (or why it cannot)
    plan = warp_plan(recording, config.anatomy)
    warp = "n/a" if plan is None else (
        f"transform {Path(plan['transform'].file).name}" if plan["method"] == "transform"
        else f"register {plan['t1w'].name}")
    return {**recording.summary(), "warp": warp}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
