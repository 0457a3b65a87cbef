"""Registered model names, versions and aliases checked against MLflow's own rules before any
registry query, so a typo or a hostile value (`--alias "../../x"`, a name with a quote) is one line
naming the value and the rule, never a traceback from inside a search filter.

MLflow's rules (mlflow.utils.validation, applied here by calling them): a model name is not empty
and holds no `/` or `:` and no `.`/`..` path parts; an alias holds only letters, digits, `_` and
`-`, at most 255 characters, and `latest` and `v<digits>` are reserved for setting; a version is a
whole number. One rule of ours on top: no quote or backslash in a name, because MLflow's search
filters (`name = '<name>'`) cannot carry them.
"""
from __future__ import annotations


class RegistryNameError(ValueError):
    """A model name, version or alias the registry would refuse or misread; one line."""


_FILTER_BREAKERS = ("'", '"', "\\")


def _mlflow_message(exc) -> str:
    return str(getattr(exc, "message", exc)).splitlines()[0]


def model_name(name: object) -> str:
    """`name` if it is a legal registered model name, else RegistryNameError."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_model_name

    if not isinstance(name, str):
        raise RegistryNameError(f"registered model name {name!r}: not a string")
    try:
        _validate_model_name(name)
    except MlflowException as exc:
        raise RegistryNameError(f"registered model name {name!r}: {_mlflow_message(exc)}") from None
    if any(c in name for c in _FILTER_BREAKERS) or not name.isprintable():
        raise RegistryNameError(f"registered model name {name!r}: quotes, backslashes and control characters are "
                                "not allowed (MLflow's search filters cannot carry them)")
    return name


def alias(value: object, setting: bool = False) -> str:
    """`value` if it is a legal alias (`setting`: also not one of MLflow's reserved names)."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.validation import _validate_model_alias_name, _validate_model_alias_name_reserved

    if not isinstance(value, str):
        raise RegistryNameError(f"alias {value!r}: not a string")
    try:
        _validate_model_alias_name(value)
        if setting:
            _validate_model_alias_name_reserved(value)
    except MlflowException as exc:
        raise RegistryNameError(f"alias {value!r}: {_mlflow_message(exc)}") from None
    return value


def version(value: object) -> str:
    """`value` as a version string if it is a whole number >= 1."""
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise RegistryNameError(f"model version {value!r}: a whole number >= 1 (see "
                                "`python -m pipeline.core.registry list`)")
    return str(int(text))


def model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """(name, alias, version) of `models:/<name>@<alias>` or `models:/<name>/<version>`, each checked."""
    if not isinstance(uri, str) or not uri.startswith("models:/"):
        raise RegistryNameError(f"{uri!r}: expected models:/<name>@<alias> or models:/<name>/<version>")
    ref = uri.removeprefix("models:/")
    name, sep, tail = ref.partition("@")
    if sep:
        return model_name(name), alias(tail), None
    name, sep, tail = ref.rpartition("/")
    if not sep:
        raise RegistryNameError(f"{uri!r}: expected models:/<name>@<alias> or models:/<name>/<version>")
    return model_name(name), None, version(tail)
