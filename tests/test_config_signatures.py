"""The configuration sections match the functions they feed, and each stage gets its section.

The pipeline builds the RSA calls from the ``rsa`` section's fields by name, so a field renamed
on either side must fail here, not at the end of a participant's run.
"""

from __future__ import annotations

import importlib
import inspect

import pytest
from pydantic import BaseModel

from ieegrsa.config import Config, RSAConfig, config_section, load_config
from ieegrsa.rsa import neural_rdms
from ieegrsa.rsa.similarity import neural_ceiling, similarity_table

#: rsa fields passed by name to neural_rdms (and, through its **neural_kwargs, neural_ceiling).
NEURAL_FIELDS = {"pattern", "window", "step", "tmin", "tmax", "window_features", "metric",
                 "condition_column", "trials", "cv_column", "noise", "noise_pooling"}
#: rsa fields passed by name to similarity_table.
SIMILARITY_FIELDS = {"method", "partial", "n_permutations", "cluster_alpha"}
#: rsa fields used otherwise: whether the pipeline calls neural_ceiling at all.
ELSEWHERE = {"noise_ceiling"}

SECTIONS = ("bids", "preprocessing", "anatomy", "rsa", "models", "stats", "training")


def _parameters(function):
    return inspect.signature(function).parameters


def _by_name(function):
    """The parameters a call can pass by keyword."""
    return {name for name, p in _parameters(function).items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def test_every_rsa_field_has_a_place():
    # a new field must be wired to a function (and listed above), or it would be ignored
    groups = (NEURAL_FIELDS, SIMILARITY_FIELDS, ELSEWHERE)
    assert set().union(*groups) == set(RSAConfig.model_fields)
    assert sum(map(len, groups)) == len(RSAConfig.model_fields)  # each in one group only


def test_rsa_fields_are_neural_rdms_parameters():
    assert NEURAL_FIELDS <= _by_name(neural_rdms), NEURAL_FIELDS - _by_name(neural_rdms)


def test_rsa_fields_are_similarity_table_parameters():
    assert SIMILARITY_FIELDS <= _by_name(similarity_table), \
        SIMILARITY_FIELDS - _by_name(similarity_table)
    # method is the third positional argument, after the neural and the model RDMs
    assert list(_parameters(similarity_table))[2] == "method"


def test_rsa_fields_reach_neural_ceiling():
    parameters = _parameters(neural_ceiling)
    # method is the third positional argument, after the epochs and the contacts
    assert list(parameters)[2] == "method"
    assert "cv_column" in _by_name(neural_ceiling)
    # the other neural fields travel through **neural_kwargs into neural_rdms
    assert any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    assert NEURAL_FIELDS - _by_name(neural_ceiling) <= _by_name(neural_rdms)


@pytest.mark.parametrize("name", SECTIONS)
def test_config_section_returns_the_section_model(name):
    model = Config.model_fields[name].annotation
    # the section lives in the module named after it
    assert getattr(importlib.import_module(f"ieegrsa.config.{name}"), model.__name__) is model
    section = config_section(None, name)
    assert type(section) is model and section == model()
    assert config_section(section, name) is section  # a section is passed on as it is
    config = load_config({"random_seed": 3})
    assert config_section(config, name) == getattr(config, name)
    with pytest.raises(ValueError):
        config_section(None, f"{name}s")


def test_config_has_exactly_these_sections():
    sections = {name for name, field in Config.model_fields.items()
                if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)}
    assert sections == set(SECTIONS)
