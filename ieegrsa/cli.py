"""The ``ieegrsa`` command.

Sub-commands:

- ``ieegrsa simulate OUT_DIR``: write a realistic synthetic face-iEEG BIDS dataset.
- ``ieegrsa demo OUT_DIR``: simulate the ``tiny`` dataset and run the pipeline on it.
- ``ieegrsa check BIDS_DIR``: load every recording as the pipeline would and summarise it.
- ``ieegrsa validate-config FILE``: check a configuration file and print it resolved.
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


def main(argv=None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return args.func(args)
    except IeegrsaError as err:
        print(f"ieegrsa: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("ieegrsa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ieegrsa`` command (all sub-commands)."""
    parser = argparse.ArgumentParser(
        prog="ieegrsa",
        description="Representational similarity analysis of face-viewing intracranial EEG "
        "(sEEG/ECoG) against identity- and expression-trained deep networks, on a BIDS dataset.",
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
    return parser


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(format="%(levelname)s: %(message)s", level=level, stream=sys.stderr)
    logger.setLevel(level)


def _cmd_simulate(args) -> int:
    from .simulate import make_dataset

    root = make_dataset(args.out_dir, preset=args.preset, seed=args.seed, effect=args.effect,
                        overwrite=args.overwrite)
    print(f"Simulated BIDS dataset written to {root}")
    return 0


def _cmd_check(args) -> int:
    from .config import load_config

    config = load_config(args.config)
    task = args.task or config.bids.task
    table = _load_all(args.bids_dir, config, task, args.participant_label, args.session_label)
    print(table.to_string(index=False))
    return 0


def _cmd_demo(args) -> int:
    import pandas as pd

    from .bids import list_subjects, write_dataset_description, write_tsv
    from .config import load_config, write_config
    from .pipeline import run_participant
    from .simulate import make_dataset

    out = args.out_dir
    bids_root = make_dataset(out / "bids", preset="tiny", seed=args.seed, overwrite=args.overwrite)
    config = load_config({"random_seed": args.seed})
    derivatives = out / "derivatives" / "ieegrsa"
    write_dataset_description(derivatives, source_dataset=bids_root)
    write_config(config, derivatives / "config.yaml")
    summaries = []
    for subject in list_subjects(bids_root):
        outputs = run_participant(bids_root, derivatives, subject, config)
        contacts = pd.read_csv(outputs["contacts"], sep="\t", keep_default_na=False)
        included = contacts[contacts["included"].astype(str) == "True"]
        summaries.append({**outputs["summary"],
                          **{f"n_{roi}": int((included["roi"] == roi).sum())
                             for roi in ("ventral", "lateral")}})
    table = pd.DataFrame(summaries)
    write_tsv(table, derivatives / f"task-{config.bids.task}_desc-recordings_summary.tsv",
              columns={**_SUMMARY_COLUMNS,
                       "n_ventral": "Contacts included in the ventral ROI.",
                       "n_lateral": "Contacts included in the lateral ROI."})
    print(table.to_string(index=False))
    print(f"\nDataset: {bids_root}\nDerivatives: {derivatives}")
    return 0


def _cmd_models_list(args) -> int:
    from .models import get_extractor, list_extractors

    for name in list_extractors():
        print(f"{name}\t{get_extractor(name).objective}")
    return 0


def _cmd_models_layers(args) -> int:
    import yaml

    from .models import get_extractor

    options = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise IeegrsaError("an option must be KEY=VALUE", field="--option", found=item,
                               fix="write e.g. --option num_classes=7")
        options[key] = yaml.safe_load(value)  # numbers and booleans typed as in the config
    extractor = get_extractor(args.name, **options)
    defaults = set(extractor.default_layers())
    for layer in extractor.layers():
        print(f"{'*' if layer in defaults else ' '} {layer}")
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
    from .bids import find_recordings

    if session is not None:
        return [session]
    found = find_recordings(bids_root, subject=subject, task=task)["session"].dropna().unique()
    return list(found) or [None]


def _load_one(bids_root, subject, task, session, config):
    from .pipeline import load_participant

    recording = load_participant(bids_root, subject, config, session=session, task=task)
    logger.info("loaded sub-%s: %s", subject, recording.raw)
    return recording.summary()


_SUMMARY_COLUMNS = {
    "subject": "Participant label.",
    "session": "Session label (n/a when the dataset has none).",
    "task": "Task label.",
    "n_runs": "Number of runs concatenated.",
    "sfreq": {"Description": "Sampling rate of the recording.", "Units": "Hz"},
    "duration_s": {"Description": "Duration of the concatenated recording.", "Units": "s"},
    "line_freq": {"Description": "Power-line frequency from the sidecar.", "Units": "Hz"},
    "n_seeg": "Number of sEEG contacts.",
    "n_ecog": "Number of ECoG contacts.",
    "n_bad": "Number of contacts marked bad in channels.tsv.",
    "space": "Coordinate space of the contacts.",
    "n_events": "Number of events.",
    "n_stimuli": "Number of distinct images shown.",
    "n_faces": "Number of distinct face images.",
    "n_identities": "Number of face identities.",
    "n_expressions": "Number of facial expressions.",
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
