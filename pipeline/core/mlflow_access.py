"""Users and permissions of a team MLflow server that runs MLflow's basic-auth app
(`mlflow server --app-name basic-auth`; docs/security.md, "MLflow"). Run as an admin:

    export MLFLOW_TRACKING_URI=http://<host>:5000 MLFLOW_TRACKING_USERNAME=admin MLFLOW_TRACKING_PASSWORD=...
    python -m pipeline.core.mlflow_access init                  # the promotions' audit experiment, owned by the admin
    python -m pipeline.core.mlflow_access user add pipeline     # password from $MLFLOW_NEW_USER_PASSWORD, else asked
    python -m pipeline.core.mlflow_access grant alice EDIT      # every <prefix>/* experiment + registered model of conf
    python -m pipeline.core.mlflow_access password admin        # rotate a password (the same variable, else asked)

Permissions (MLflow's): READ sees runs and models; EDIT also logs runs, registers versions and
moves aliases (so it promotes); MANAGE also deletes and grants. Whoever creates an experiment or a
registered model gets MANAGE on it; everyone else gets the server's default_permission. `grant`
sets one level on the pipeline's experiments and models (replacing what the user had there, so it
also takes MANAGE back, e.g. from the account that ran the pipeline first, so that nobody but an
admin can delete a promotion's audit run).
"""
from __future__ import annotations

import argparse

from omegaconf import DictConfig, OmegaConf

NEW_PASSWORD_ENV = "MLFLOW_NEW_USER_PASSWORD"
PERMISSIONS = ("READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS")


def auth_client(uri: str):
    """MLflow's client of the basic-auth app; it authenticates as MLFLOW_TRACKING_USERNAME/PASSWORD."""
    from mlflow.server import get_app_client

    if not uri.startswith(("http://", "https://")):
        raise ValueError(f"{uri}: users and permissions exist only on a tracking server (http://...), "
                         "not on a local store (set MLFLOW_TRACKING_URI)")
    return get_app_client("basic-auth", tracking_uri=uri)


def add_user(uri: str, name: str, password: str) -> None:
    auth_client(uri).create_user(name, password)


def set_password(uri: str, name: str, password: str) -> None:
    auth_client(uri).update_user_password(name, password)


def _set(client, name: str, kind: str, resource: str, permission: str) -> None:
    """Exactly `permission` for `name` on one resource (MLflow refuses a second grant: revoke first)."""
    from mlflow.exceptions import MlflowException

    try:
        client.revoke_user_permission(name, kind, resource)
    except MlflowException:
        pass  # nothing granted there yet
    client.grant_user_permission(name, kind, resource, permission)


def grant(uri: str, name: str, permission: str, cfg: DictConfig) -> dict[str, list[str]]:
    """`permission` for user `name` on every experiment named <prefix>/* and every registered model
    of tracking.registry.models; returns {"experiments": [...], "models": [...], "missing": [...]}."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from pipeline.core.registry import model_name
    from pipeline.core.tracking import experiment_name

    if permission not in PERMISSIONS:
        raise ValueError(f"permission {permission!r}: allowed {', '.join(PERMISSIONS)}")
    auth, tracking = auth_client(uri), MlflowClient(tracking_uri=uri)
    prefix = experiment_name("", cfg)
    done: dict[str, list[str]] = {"experiments": [], "models": [], "missing": []}
    for exp in tracking.search_experiments(filter_string=f"name LIKE '{prefix}%'", max_results=1000):
        _set(auth, name, "experiment", exp.experiment_id, permission)
        done["experiments"].append(exp.name)
    for stage_model in OmegaConf.select(cfg, "tracking.registry.models") or {}:
        model = model_name(cfg, stage_model)
        try:
            tracking.get_registered_model(model)
        except MlflowException:
            done["missing"].append(model)
            continue
        _set(auth, name, "registered_model", model, permission)
        done["models"].append(model)
    return done


def create_audit_experiment(uri: str, cfg: DictConfig) -> str:
    """Create the promotions' audit experiment as the calling user (an admin) if it does not exist:
    whoever creates it owns it (MANAGE, may delete its runs), so the admin should, before any
    promotion; promoters then get EDIT (`grant`), which adds runs but cannot delete them."""
    from mlflow.tracking import MlflowClient

    from pipeline.core.promotion import audit_experiment
    from pipeline.core.tracking import ensure_experiment

    auth_client(uri)  # a server, not a local store
    return ensure_experiment(MlflowClient(tracking_uri=uri), audit_experiment(cfg))


def main(argv: list[str] | None = None) -> None:
    from pipeline.core.cli import new_password
    from pipeline.core.config import load_params
    from pipeline.core.promotion import audit_experiment as audit_name
    from pipeline.core.settings import tracking
    from pipeline.core.tracking import tracking_uri

    parser = argparse.ArgumentParser(description="Users and permissions of a basic-auth MLflow server (run as admin).")
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    sub = parser.add_subparsers(dest="command", required=True)
    u = sub.add_parser("user", help="add a user")
    u.add_argument("action", choices=("add",))
    u.add_argument("name")
    pw = sub.add_parser("password", help="set a user's password")
    pw.add_argument("name")
    sub.add_parser("init", help="create the promotions' audit experiment as admin (do it before the first promotion)")
    g = sub.add_parser("grant", help="one permission on every pipeline experiment and registered model")
    g.add_argument("name")
    g.add_argument("permission", choices=PERMISSIONS)
    args = parser.parse_args(argv)
    cfg = load_params(args.params, {"tracking": tracking.Tracking})
    uri = tracking_uri(cfg)
    if args.command == "user":
        add_user(uri, args.name, new_password(NEW_PASSWORD_ENV, f"MLflow user {args.name}"))
        print(f"{uri}: user {args.name} added (default permission of the server until granted more)")
    elif args.command == "init":
        print(f"{uri}: audit experiment {audit_name(cfg)} (id {create_audit_experiment(uri, cfg)}) is owned by "
              "its creator; grant promoters EDIT: they add runs, only MANAGE deletes")
    elif args.command == "password":
        set_password(uri, args.name, new_password(NEW_PASSWORD_ENV, f"MLflow user {args.name}"))
        print(f"{uri}: password of {args.name} changed")
    else:
        done = grant(uri, args.name, args.permission, cfg)
        print(f"{uri}: {args.name} has {args.permission} on {len(done['experiments'])} experiments "
              f"({', '.join(done['experiments']) or 'none yet'}) and models {', '.join(done['models']) or 'none yet'}")
        if done["missing"]:
            print(f"not registered yet (grant again after the first training run): {', '.join(done['missing'])}")


if __name__ == "__main__":
    from pipeline.core.cli import run_stage

    run_stage("mlflow_access", main)
