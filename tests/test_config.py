"""The configuration schema: defaults, YAML overrides, round trips and error messages."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from pydantic import BaseModel

from ieegrsa.config import (
    SUPPORTED_SPACES,
    BIDSConfig,
    Config,
    config_template_yaml,
    config_to_yaml,
    load_config,
    write_config,
)
from ieegrsa.errors import ConfigError


def _write(tmp_path, text, name="config.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults():
    config = load_config()
    assert config == Config()
    assert config.random_seed == 0
    assert config.n_jobs == 1
    bids = config.bids
    assert bids == BIDSConfig()
    assert (bids.task, bids.session, bids.run) == ("faces", None, None)
    assert bids.identity_column == "identity"
    assert bids.expression_column == "expression"
    assert bids.stim_file_column == "stim_file"
    assert bids.repetition_column == "repetition"
    assert bids.stimuli_table == "stimuli/stimuli.tsv"
    assert bids.assume_space is None


def test_every_field_has_a_default_and_a_description():
    def check(model):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            assert not field.is_required(), f"{model.__name__}.{name} has no default"
            if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
                assert field.annotation.__doc__, f"section {name} has no docstring"
                check(field.annotation)

    check(Config)


def test_yaml_overrides_a_subset(tmp_path):
    path = _write(tmp_path, "n_jobs: 2\nbids:\n  expression_column: emotion\n  run: '01'\n")
    config = load_config(path)
    assert config.n_jobs == 2
    assert config.bids.expression_column == "emotion"
    assert config.bids.run == "01"
    # everything else keeps its default
    assert config.random_seed == 0
    assert config.bids.task == "faces"
    assert config.bids.identity_column == "identity"


def test_sources_dict_config_and_str_path(tmp_path):
    from_dict = load_config({"bids": {"task": "emotion"}})
    assert from_dict.bids.task == "emotion"
    copy = load_config(from_dict)
    assert copy == from_dict and copy is not from_dict
    path = _write(tmp_path, "bids:\n  task: emotion\n")
    assert load_config(str(path)) == from_dict


def test_overrides_apply_on_top_of_the_file(tmp_path):
    path = _write(tmp_path, "n_jobs: 2\nbids:\n  task: emotion\n")
    config = load_config(path, overrides={"n_jobs": 4, "bids": {"session": "01"}})
    assert (config.n_jobs, config.bids.task, config.bids.session) == (4, "emotion", "01")
    with pytest.raises(ConfigError, match=r"n_jobs"):
        load_config(path, overrides={"n_jobs": 0})


def test_empty_file_and_empty_section_give_defaults(tmp_path):
    assert load_config(_write(tmp_path, "# nothing here\n")) == Config()
    # a section whose keys are all commented out reads as null
    assert load_config(_write(tmp_path, "bids:\n  # task: faces\n", "b.yaml")) == Config()


def test_round_trip(tmp_path):
    config = load_config({
        "random_seed": 42,
        "n_jobs": -1,
        "bids": {"task": "emotion", "session": "02", "run": "01",
                 "assume_space": "MNI152NLin2009cAsym", "identity_column": "actor"},
    })
    text = config_to_yaml(config)
    assert load_config(_write(tmp_path, text)) == config
    assert yaml.safe_load(text)["bids"]["run"] == "01"  # stays text, leading zero kept


def test_write_config_is_atomic_and_round_trips(tmp_path):
    config = load_config({"random_seed": 7})
    path = write_config(config, tmp_path / "sub" / "config.yaml")
    assert path.read_text(encoding="utf-8") == config_to_yaml(config)
    assert load_config(path) == config
    # only the final file remains: the temporary file was renamed, not left behind
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["config.yaml"]
    write_config(load_config({"random_seed": 8}), path)
    assert load_config(path).random_seed == 8


def test_unknown_key_names_file_path_and_valid_keys(tmp_path):
    path = _write(tmp_path, "n_jobs: 2\nbids:\n  taks: faces\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "bids.taks" in message
    assert "line 3" in message
    for key in BIDSConfig.model_fields:
        assert key in message
    assert "Did you mean 'task'?" in message
    assert info.value.field == "bids.taks"


def test_unknown_top_level_key_points_to_its_section():
    with pytest.raises(ConfigError) as info:
        load_config({"task": "faces"})
    message = str(info.value)
    assert "random_seed, n_jobs, bids" in message
    assert "bids.task" in message


def test_wrong_type_names_the_expected_type(tmp_path):
    path = _write(tmp_path, "n_jobs: two\n")
    with pytest.raises(ConfigError, match=r"\[n_jobs\].*expected an integer.*'two'"):
        load_config(path)
    # YAML reads `yes` as true: it must not become n_jobs = 1
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config({"n_jobs": True})
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config({"bids": "faces"})


def test_unquoted_number_for_a_label_suggests_quotes(tmp_path):
    # `run: 01` is the number 1 in YAML; silently using "1" would not match run-01
    path = _write(tmp_path, "bids:\n  run: 01\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "bids.run" in str(info.value)
    assert "quotes" in str(info.value)


@pytest.mark.parametrize("task", ["fa ces", "faces_1", "faces-1", ""])
def test_invalid_task_label(task):
    with pytest.raises(ConfigError, match=r"\[bids\.task\].*BIDS label"):
        load_config({"bids": {"task": task}})


def test_task_with_prefix_says_to_drop_it():
    with pytest.raises(ConfigError, match="without the 'task-' prefix.*Write 'faces'"):
        load_config({"bids": {"task": "task-faces"}})


def test_run_must_be_an_index():
    assert load_config({"bids": {"run": "01"}}).bids.run == "01"
    with pytest.raises(ConfigError, match=r"\[bids\.run\].*index"):
        load_config({"bids": {"run": "a"}})


def test_invalid_values():
    with pytest.raises(ConfigError, match=r"\[n_jobs\].*cannot be 0"):
        load_config({"n_jobs": 0})
    with pytest.raises(ConfigError, match=r"\[random_seed\].*greater than or equal to 0"):
        load_config({"random_seed": -1})
    with pytest.raises(ConfigError, match=r"\[bids\.stimuli_table\].*relative"):
        load_config({"bids": {"stimuli_table": "/data/stimuli.tsv"}})
    with pytest.raises(ConfigError, match="identity_column and expression_column"):
        load_config({"bids": {"identity_column": "label", "expression_column": "label"}})


def test_assume_space():
    assert SUPPORTED_SPACES[0] == "MNI152Lin"
    assert {"MNI152NLin2009cAsym", "MNI305", "fsaverage"} <= set(SUPPORTED_SPACES)
    assert not {"ACPC", "Other", "Pixels"} & set(SUPPORTED_SPACES)
    for space in SUPPORTED_SPACES:
        assert load_config({"bids": {"assume_space": space}}).bids.assume_space == space
    # case is forgiven; the canonical BIDS spelling is kept
    config = load_config({"bids": {"assume_space": "mni152nlin2009casym"}})
    assert config.bids.assume_space == "MNI152NLin2009cAsym"
    with pytest.raises(ConfigError, match="did you mean 'MNI152NLin2009cAsym'"):
        load_config({"bids": {"assume_space": "MNI152NLin2009cAsymm"}})
    with pytest.raises(ConfigError, match="normalised"):
        load_config({"bids": {"assume_space": "ACPC"}})


def test_several_problems_in_one_message(tmp_path):
    path = _write(tmp_path, "n_jobs: 0\nbids:\n  task: 'a b'\n  colour: red\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "3 problems" in message
    # in file order
    positions = [message.index(key) for key in ("[n_jobs]", "[bids.task]", "[bids.colour]")]
    assert positions == sorted(positions)


def test_bad_yaml_syntax(tmp_path):
    path = _write(tmp_path, "bids:\n  task: [faces\n")
    with pytest.raises(ConfigError, match="not valid YAML.*line") as info:
        load_config(path)
    assert str(path) in str(info.value)
    path = _write(tmp_path, "bids:\n\ttask: faces\n", "tab.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_duplicate_key(tmp_path):
    path = _write(tmp_path, "n_jobs: 2\nn_jobs: 3\n")
    with pytest.raises(ConfigError, match=r"\[n_jobs\].*twice"):
        load_config(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_config(path)
    assert str(path) in str(info.value)
    # the parameter at fault, never a command-line flag (the CLI adds its own)
    assert info.value.field == "source" and "--" not in str(info.value)
    with pytest.raises(ConfigError, match="not a file"):
        load_config(tmp_path)


@pytest.mark.parametrize("text", ["- n_jobs\n- 2\n", "faces\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path, text):
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(_write(tmp_path, text))


def test_unsupported_source():
    with pytest.raises(ConfigError, match="YAML file, a mapping or a Config"):
        load_config(["n_jobs", 2])


def test_template_parses_back_into_the_defaults(tmp_path):
    text = config_template_yaml()
    assert load_config(_write(tmp_path, text)) == Config()
    # every field appears, each preceded by a comment
    lines = text.splitlines()
    for section, model in (("", Config), ("bids.", BIDSConfig)):
        for name in model.model_fields:
            index = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{name}:"))
            assert lines[index - 1].strip().startswith("#"), f"{section}{name} has no comment"
    assert "Where ieegrsa finds the recordings" in text  # the section's docstring


def test_assignment_is_validated():
    config = load_config()
    config.n_jobs = 3
    assert config.n_jobs == 3
    with pytest.raises(ValueError):
        config.n_jobs = 0


def test_import_is_light():
    # `ieegrsa --help` imports the configuration: no stage may come with it
    code = ("import sys, ieegrsa.config; "
            "print(*sorted(m for m in sys.modules if m.startswith('ieegrsa.')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.split()
    assert all(m.startswith(("ieegrsa.config", "ieegrsa._", "ieegrsa.errors")) for m in loaded), \
        loaded


def test_python_m_writes_the_template():
    out = subprocess.run([sys.executable, "-m", "ieegrsa.config"], capture_output=True,
                         text=True, check=True).stdout
    assert out == config_template_yaml()
