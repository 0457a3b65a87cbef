"""OPC UA security for every server and client of the pipeline (asyncua): one call each.

    python -m pipeline.core.opcua_security certs --out ~/.tablet/pki         # certificates + trust, once
    python -m pipeline.core.opcua_security user add monitor --pki ~/.tablet/pki  # a user the servers accept
    export TABLET_OPCUA_PASSWORD=...                                          # the monitor's password

A server calls `await secure_server(server, settings, name)` between `init()` and `start()`; a
client calls `await secure_client(client, settings, name)` before each `connect()` (it asks the
server for its endpoints, so it goes inside a connect retry loop). `settings` comes from conf
(`Settings.from_conf(cfg.live.security)`), `name` is the application's identity in the PKI
folder (`line`, `monitor`, `planner`, `presses`). Servers and clients are made through
pipeline/core/opcua_connect.py, which calls these two.

With `policy: Basic256Sha256` (the default) a server offers only Basic256Sha256 Sign and
SignAndEncrypt endpoints with its own certificate, accepts a client only if the client's
certificate is in <pki>/trusted/ (asyncua TrustStore + CertificateValidator), and a session only
with a user name and password from the users file (hashed with scrypt; anonymous and certificate
identity tokens are refused). A client likewise accepts a server only if the server's certificate
is in <pki>/trusted/. Every client is read-only on our servers (read, browse, subscribe; no
write, no method call, no change of the address space), whatever the policy. `policy: None` is
the explicit switch for local tries: no signing, no encryption, anonymous sessions.

PKI folder (outside git; keys 0600):
    <pki>/own/<name>.der        the application's certificate (self-signed, URI urn:tablet-pipeline:application:<name>)
    <pki>/private/<name>.pem    its private key
    <pki>/trusted/*.der|pem     certificates this site's servers and clients accept (the `certs` command
                                puts its own in; copy a plant server's or a SCADA client's certificate in to trust it)
    <pki>/users.json            users the servers accept: name -> scrypt hash (no password is stored)
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from pipeline.core.settings.live import MODES, POLICY_NONE, POLICY_SECURE  # the names conf/ may choose

log = logging.getLogger("pipeline.core.opcua_security")

LINE, MONITOR, PLANNER, PRESSES = "line", "monitor", "planner", "presses"   # the pipeline's OPC UA applications
IDENTITIES = (LINE, MONITOR, PLANNER, PRESSES)
USERS_FILE = "users.json"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}   # about 50 ms a check: once per session, not per value


class SecurityError(ValueError):
    """A missing certificate, users file or password: one line that says which command makes it."""


def application_uri(name: str) -> str:
    """The application URI of `name`: in its certificate, and what a peer's validator checks."""
    return f"urn:tablet-pipeline:application:{name}"


@dataclass(frozen=True)
class Settings:
    policy: str                 # Basic256Sha256 | None
    mode: str                   # what a client asks for: SignAndEncrypt | Sign
    pki: Path
    users_file: Path
    user: str | None            # the user a client logs in as
    password_env: str           # the environment variable holding that user's password

    @classmethod
    def from_conf(cls, node: DictConfig) -> "Settings":
        """From `live.security` (conf/live/opcua.yaml)."""
        policy = node.policy  # not str(): YAML null must not read as the word None
        if policy not in (POLICY_SECURE, POLICY_NONE):
            raise SecurityError(f"live.security.policy = {policy!r}: allowed {POLICY_SECURE} or {POLICY_NONE} "
                                "(None only for local tries)")
        if str(node.mode) not in MODES:
            raise SecurityError(f"live.security.mode = {node.mode!r}: allowed {' or '.join(MODES)}")
        pki = Path(str(node.pki)).expanduser()
        users = Path(str(node.users_file)).expanduser() if node.get("users_file") else pki / USERS_FILE
        return cls(policy, str(node.mode), pki, users, str(node.user) if node.get("user") else None,
                   str(node.password_env))

    @property
    def enabled(self) -> bool:
        return self.policy != POLICY_NONE

    def describe(self) -> str:
        """One phrase for a start-up line."""
        if not self.enabled:
            return "security policy None: no signing, no encryption, anonymous clients (local tries only)"
        return f"{self.policy} Sign and SignAndEncrypt, trusted certificates of {self.pki / 'trusted'}, users of {self.users_file}"


def add_policy_flag(parser: argparse.ArgumentParser) -> None:
    """`--security-policy` of every OPC UA command: live.security.policy by another name
    (policy_override turns it into the override the schema checks)."""
    parser.add_argument("--security-policy", choices=(POLICY_SECURE, POLICY_NONE), default=None,
                        help="OPC UA security (default: live.security.policy; None only for local tries)")


def policy_override(args: argparse.Namespace) -> list[str]:
    """The Hydra override a command's --security-policy stands for (none when not given)."""
    return [f"live.security.policy={args.security_policy}"] if args.security_policy else []


# ---------------------------------------------------------------------------------------------
# Certificates

def cert_path(pki: Path, name: str) -> Path:
    return pki / "own" / f"{name}.der"


def key_path(pki: Path, name: str) -> Path:
    return pki / "private" / f"{name}.pem"


def trusted_dir(pki: Path) -> Path:
    return pki / "trusted"


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` readable by its owner only (0600), atomically."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)  # a folder it makes: owner only (an existing one is left as it is)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def make_certificate(pki: Path, name: str, host: str | None = None, days: int = 365,
                     trust: bool = True) -> Path:
    """A key and a self-signed certificate for application `name` (client and server use) in
    `pki`; kept if both exist. `trust`: also copy the certificate into <pki>/trusted/."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID
    from asyncua.crypto import cert_gen

    cert_file, key_file = cert_path(pki, name), key_path(pki, name)
    if not (cert_file.exists() and key_file.exists()):
        key = cert_gen.generate_private_key()
        uri = application_uri(name)
        hosts = dict.fromkeys([host or socket.gethostname(), "localhost"])
        alt = [x509.UniformResourceIdentifier(uri), *(x509.DNSName(h) for h in hosts)]
        cert = cert_gen.generate_self_signed_app_certificate(
            key, uri, {"organizationName": "tablet-pipeline"}, alt,
            [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH], days=days)
        _write_private(key_file, cert_gen.dump_private_key_as_pem(key))
        cert_file.parent.mkdir(parents=True, exist_ok=True)
        cert_file.write_bytes(cert.public_bytes(Encoding.DER))
    if trust:
        trusted_dir(pki).mkdir(parents=True, exist_ok=True)
        (trusted_dir(pki) / cert_file.name).write_bytes(cert_file.read_bytes())
    return cert_file


def _own(pki: Path, name: str) -> tuple[Path, Path]:
    cert, key = cert_path(pki, name), key_path(pki, name)
    for path in (cert, key):
        if not path.exists():
            raise SecurityError(f"{path}: no OPC UA certificate for '{name}' (live.security.pki); make them with "
                                f"`python -m pipeline.core.opcua_security certs --out {pki}`, or, for a local try "
                                "only, --security-policy None (live.security.policy)")
    return cert, key


async def _validator(pki: Path, peer_is_server: bool):
    """A CertificateValidator that accepts only the certificates of <pki>/trusted/."""
    from asyncua.crypto.truststore import TrustStore
    from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions as Options

    folder = trusted_dir(pki)
    if not folder.is_dir() or not any(folder.iterdir()):
        raise SecurityError(f"{folder}: no trusted certificates; `python -m pipeline.core.opcua_security certs "
                            f"--out {pki}` makes and trusts the pipeline's own")
    store = TrustStore([folder], [])
    await store.load()
    peer = Options.PEER_SERVER if peer_is_server else Options.PEER_CLIENT
    return CertificateValidator(Options.TRUSTED_VALIDATION | peer, store)


# ---------------------------------------------------------------------------------------------
# Users

def _hash(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)


def hash_password(password: str) -> dict:
    salt = secrets.token_bytes(16)
    return {**_SCRYPT, "salt": salt.hex(), "hash": _hash(password, salt, **_SCRYPT).hex()}


def read_users(users_file: Path) -> dict[str, dict]:
    if not users_file.exists():
        return {}
    try:
        users = json.loads(users_file.read_text())["users"]
        assert isinstance(users, dict)
        return users
    except (ValueError, KeyError, TypeError, AssertionError):
        raise SecurityError(f"{users_file}: not a users file of pipeline.core.opcua_security "
                            "(expected {\"users\": {name: hash}})") from None


def set_user(users_file: Path, name: str, password: str) -> None:
    """Add or replace user `name` (only its scrypt hash is stored)."""
    if not name or not name.isprintable() or name != name.strip():
        raise SecurityError(f"user name {name!r}: printable, no surrounding spaces")
    if len(password) < 8:
        raise SecurityError("password: at least 8 characters")
    users = read_users(users_file)
    users[name] = hash_password(password)
    _write_private(users_file, json.dumps({"users": users}, indent=1).encode())


def remove_user(users_file: Path, name: str) -> bool:
    users = read_users(users_file)
    if users.pop(name, None) is None:
        return False
    _write_private(users_file, json.dumps({"users": users}, indent=1).encode())
    return True


class PasswordUsers:
    """asyncua user manager: a session with a user name and password of the users file, nothing else."""

    def __init__(self, users: dict[str, dict]):
        self.users = users
        self._dummy = hash_password(secrets.token_hex(8))  # unknown names cost as much as known ones

    def check(self, username: str | None, password: str | None) -> bool:
        if not username or password is None:
            return False
        entry = self.users.get(username, self._dummy)
        try:
            got = _hash(password, bytes.fromhex(entry["salt"]), int(entry["n"]), int(entry["r"]), int(entry["p"]))
            ok = hmac.compare_digest(got, bytes.fromhex(entry["hash"]))
        except (KeyError, ValueError, TypeError):
            return False
        return ok and username in self.users

    def get_user(self, iserver, username=None, password=None, certificate=None):
        from asyncua.crypto.permission_rules import User, UserRole

        if self.check(username, password):
            return User(role=UserRole.User, name=username)
        log.warning("OPC UA session refused for user %r", username)
        return None


def read_only_ruleset(allow_writes: bool = False):
    """asyncua's role ruleset without writes and method calls: clients read, browse and subscribe.
    `allow_writes`: writes pass the ruleset, so a client can write the variables the server marked
    writable (asyncua checks each node's AccessLevel; the press server's lockstep ack is the only one)."""
    from asyncua import ua
    from asyncua.crypto.permission_rules import SimpleRoleRuleset, UserRole

    ruleset = SimpleRoleRuleset()
    refused = {ua.NodeId(ua.ObjectIds.CallRequest_Encoding_DefaultBinary)}
    if not allow_writes:
        refused.add(ua.NodeId(ua.ObjectIds.WriteRequest_Encoding_DefaultBinary))
    for role in (UserRole.User, UserRole.Admin):
        ruleset._permission_dict[role] = {t for t in ruleset._permission_dict[role] if t not in refused}
        if role is UserRole.Admin:  # no remote change of the address space either
            ruleset._permission_dict[role] &= ruleset._permission_dict[UserRole.User]
    return ruleset


def client_password(settings: Settings) -> str:
    password = os.environ.get(settings.password_env)
    if not password:
        raise SecurityError(f"${settings.password_env} is not set: the password of OPC UA user '{settings.user}' "
                            f"(live.security.user; live.security.password_env names the variable)")
    return password


def throwaway_pki(folder: Path, user: str, names=IDENTITIES, days: int = 2) -> str:
    """Certificates of `names` (all trusted) and `user` with a fresh random password in `folder`,
    for a test or a benchmark run on loopback; returns the password."""
    for name in names:
        make_certificate(folder, name, host="localhost", days=days)
    password = secrets.token_urlsafe(12)
    set_user(folder / USERS_FILE, user, password)
    return password


# ---------------------------------------------------------------------------------------------
# The two calls

async def secure_server(server, settings: Settings, name: str, allow_writes: bool = False) -> None:
    """Set up `server` (after `init()`, before `start()`) as `settings` say, as application `name`
    (`allow_writes`: see read_only_ruleset)."""
    from asyncua import ua

    rules = read_only_ruleset(allow_writes)
    if not settings.enabled:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity], permission_ruleset=rules)
        server.set_identity_tokens([ua.AnonymousIdentityToken])
        return
    cert, key = _own(settings.pki, name)
    users = read_users(settings.users_file)
    if not users:
        raise SecurityError(f"{settings.users_file}: no OPC UA users; add one with `python -m "
                            f"pipeline.core.opcua_security user add <name> --pki {settings.pki}`")
    await server.load_certificate(str(cert))
    await server.load_private_key(str(key))
    await server.set_application_uri(application_uri(name))
    server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                                ua.SecurityPolicyType.Basic256Sha256_Sign], permission_ruleset=rules)
    server.set_identity_tokens([ua.UserNameIdentityToken])
    server.iserver.set_user_manager(PasswordUsers(users))
    server.set_certificate_validator(await _validator(settings.pki, peer_is_server=False))


async def secure_client(client, settings: Settings, name: str, user: str | None = None,
                        password: str | None = None) -> None:
    """Set up `client` (before each `connect()`) as application `name`, logging in as `user`
    (default: live.security.user) with `password` (default: from $<live.security.password_env>).
    It fetches the server's endpoints: an OSError means the server is not there (yet)."""
    from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

    if not settings.enabled:
        return
    cert, key = _own(settings.pki, name)
    user = user or settings.user
    if not user:
        raise SecurityError("live.security.user is not set: the user an OPC UA client logs in as")
    client.application_uri = application_uri(name)
    client.set_user(user)
    client.set_password(password if password is not None else client_password(settings))
    client.certificate_validator = await _validator(settings.pki, peer_is_server=True)
    from asyncua import ua

    await client.set_security(SecurityPolicyBasic256Sha256, str(cert), str(key),
                              mode=getattr(ua.MessageSecurityMode, settings.mode))


# ---------------------------------------------------------------------------------------------
# Command line

def main(argv: list[str] | None = None) -> None:
    from pipeline.core.cli import new_password
    from pipeline.core.config import load_params
    from pipeline.core.settings import live

    parser = argparse.ArgumentParser(description="Certificates and users for the pipeline's OPC UA servers and clients.")
    parser.add_argument("--params", default=None, help="params file (default: params.yaml at the repository root)")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("certs", help="a key and self-signed certificate per application, trusted by the others")
    c.add_argument("--out", default=None, help="PKI folder outside git (default: live.security.pki, ~/.tablet/pki)")
    c.add_argument("--names", nargs="+", default=list(IDENTITIES), help=f"applications (default: {' '.join(IDENTITIES)})")
    c.add_argument("--host", default=None, help="host name in the certificates (default: this machine's)")
    c.add_argument("--days", type=int, default=365, help="validity (default: 365)")
    u = sub.add_parser("user", help="add or remove a user the servers accept")
    u.add_argument("action", choices=("add", "remove"))
    u.add_argument("name")
    u.add_argument("--pki", default=None, help="PKI folder holding users.json (default: live.security.pki)")
    u.add_argument("--password-env", default=None,
                   help="take the password from this variable (default: live.security.password_env; else asked)")
    args = parser.parse_args(argv)
    conf = Settings.from_conf(load_params(args.params, {"live.security": live.Security}).live.security)
    if args.command == "certs":
        pki = Path(args.out).expanduser() if args.out else conf.pki
        for name in args.names:
            print(f"{name}: {make_certificate(pki, name, args.host, args.days)} (key {key_path(pki, name)}, 0600)")
        print(f"trusted by every server and client using {pki}: "
              f"{', '.join(sorted(p.name for p in trusted_dir(pki).iterdir()))}")
        return
    users_file = Path(args.pki).expanduser() / USERS_FILE if args.pki else conf.users_file
    if args.action == "add":
        set_user(users_file, args.name, new_password(args.password_env or conf.password_env, f"OPC UA user {args.name}"))
        print(f"user {args.name} set in {users_file} (scrypt hash; servers read it at start)")
    elif remove_user(users_file, args.name):
        print(f"user {args.name} removed from {users_file}")
    else:
        raise SecurityError(f"no user {args.name} in {users_file}")


if __name__ == "__main__":
    from pipeline.core.cli import run_stage

    run_stage("opcua_security", main)
