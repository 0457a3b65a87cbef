"""OPC UA security (pipeline/core/opcua_security.py) on the real servers: the simulated line server
(pipeline/data/line_opcua.py) with Basic256Sha256 on, started once for the module, and the
monitor's own server. A trusted client with a user reads and subscribes with SignAndEncrypt (and
Sign); anonymous, policy-None, untrusted-certificate and wrong-password clients are refused; no
client can write; the client refuses an untrusted server; policy None is the explicit exception."""
from __future__ import annotations

import asyncio
import stat

import pytest
from asyncua import Client, Server, ua

from pipeline.core import opcua_security as sec
from pipeline.data.line_opcua import LineServer, node_id
from pipeline.process.live import Publisher
from tests.conftest import make_cfg
from tests.opcua_helpers import USER, ServerThread, make_pki, secured
from tests.servers import free_port


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def base_cfg(tmp_path_factory):
    return make_cfg(tmp_path_factory.mktemp("cfg"))


@pytest.fixture(scope="module")
def line(base_cfg, pki):
    """The line server, secured, with the first seconds of the tiny line published."""
    cfg = secured(base_cfg, pki["pki"])
    cfg.live.endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-line/"

    async def start():
        server = await LineServer(cfg).start()
        await server.publish(0, end=_first_seconds(cfg, 3))
        return server

    running = ServerThread(start)
    yield {"cfg": cfg, "server": running.server, **pki}
    running.stop()


def _first_seconds(cfg, n: int):
    import pandas as pd

    return pd.Timestamp(cfg.data.line.start) + pd.Timedelta(seconds=n)


def settings(pki_folder, **changes) -> sec.Settings:
    base = sec.Settings(sec.POLICY_SECURE, "SignAndEncrypt", pki_folder, pki_folder / sec.USERS_FILE, USER,
                        "TABLET_OPCUA_PASSWORD")
    return sec.Settings(**{**base.__dict__, **changes})


async def _read_one(line, client: Client) -> float:
    """Connect, read one published tag, disconnect."""
    await client.connect()
    try:
        idx = await client.get_namespace_index(str(line["cfg"].live.namespace))
        channel = next(iter(line["server"].nodes))
        return await client.get_node(ua.NodeId(node_id(line["cfg"].live, channel), idx)).read_value()
    finally:
        await client.disconnect()


def test_trusted_client_with_user_reads_with_sign_and_encrypt_and_with_sign(line):
    for mode in ("SignAndEncrypt", "Sign"):
        async def go():
            client = Client(str(line["cfg"].live.endpoint), timeout=10)
            await sec.secure_client(client, settings(line["pki"], mode=mode), sec.MONITOR, password=line["password"])
            assert client.security_policy.Mode == getattr(ua.MessageSecurityMode, mode)
            return await _read_one(line, client)

        value = asyncio.run(go())
        assert isinstance(value, float) and value == value  # a published sample, not the initial NaN


def test_anonymous_client_is_refused(line):
    """A trusted certificate and an encrypted channel, but no user: the session is refused."""
    async def go():
        client = Client(str(line["cfg"].live.endpoint), timeout=10)
        await sec.secure_client(client, settings(line["pki"]), sec.MONITOR, password=line["password"])
        client._username = client._password = None   # asyncua then sends an anonymous identity token
        return await _read_one(line, client)

    with pytest.raises(ua.UaStatusCodeError) as caught:
        asyncio.run(go())
    assert type(caught.value).__name__ == "BadIdentityTokenRejected"


def test_policy_none_client_is_refused(line):
    client = Client(str(line["cfg"].live.endpoint), timeout=10)  # no security at all: anonymous, policy None
    with pytest.raises(ua.UaError, match="No matching endpoints"):
        asyncio.run(_read_one(line, client))


def test_client_with_an_untrusted_certificate_is_refused(line, tmp_path):
    stranger = tmp_path / "stranger"
    sec.make_certificate(stranger, sec.MONITOR, host="localhost", days=2)   # same name, not the trusted key
    (stranger / "trusted" / "line.der").write_bytes((line["pki"] / "trusted" / "line.der").read_bytes())  # it trusts the server ...

    async def go():
        client = Client(str(line["cfg"].live.endpoint), timeout=10)
        await sec.secure_client(client, settings(stranger), sec.MONITOR, password=line["password"])
        return await _read_one(line, client)

    with pytest.raises(ua.UaStatusCodeError) as caught:   # ... but the server does not trust it
        asyncio.run(go())
    assert type(caught.value).__name__ == "BadCertificateUntrusted" or "Untrusted" in str(caught.value)


def test_wrong_password_is_refused(line):
    async def go():
        client = Client(str(line["cfg"].live.endpoint), timeout=10)
        await sec.secure_client(client, settings(line["pki"]), sec.MONITOR, password="not the password")
        return await _read_one(line, client)

    with pytest.raises(ua.UaStatusCodeError) as caught:
        asyncio.run(go())
    assert type(caught.value).__name__ == "BadUserAccessDenied"


def test_a_client_cannot_write(line):
    async def go():
        client = Client(str(line["cfg"].live.endpoint), timeout=10)
        await sec.secure_client(client, settings(line["pki"]), sec.MONITOR, password=line["password"])
        await client.connect()
        try:
            idx = await client.get_namespace_index(str(line["cfg"].live.namespace))
            channel = next(iter(line["server"].nodes))
            await client.get_node(ua.NodeId(node_id(line["cfg"].live, channel), idx)).write_value(1.0)
        finally:
            await client.disconnect()

    with pytest.raises(ua.UaStatusCodeError) as caught:
        asyncio.run(go())
    assert type(caught.value).__name__ == "BadUserAccessDenied"


def test_the_client_refuses_a_server_it_does_not_trust(line, tmp_path):
    own = tmp_path / "own-pki"
    make_pki(own, names=(sec.MONITOR,))   # trusts only itself, not the line server
    (line["pki"] / "trusted" / "extra-monitor.der").write_bytes((own / "own" / "monitor.der").read_bytes())

    async def go():
        client = Client(str(line["cfg"].live.endpoint), timeout=10)
        await sec.secure_client(client, settings(own), sec.MONITOR, password="irrelevant-pw")
        return await _read_one(line, client)

    try:
        with pytest.raises(ua.UaStatusCodeError) as caught:
            asyncio.run(go())
        assert "Untrusted" in type(caught.value).__name__
    finally:
        (line["pki"] / "trusted" / "extra-monitor.der").unlink()


def test_monitor_server_is_secured_and_policy_none_is_the_explicit_exception(base_cfg, pki, monkeypatch):
    """The monitor's own server (Monitor.* variables): secured by default; with policy None set
    explicitly it serves anonymous clients without encryption, still read-only."""
    monkeypatch.setenv("TABLET_OPCUA_PASSWORD", pki["password"])
    for policy in (sec.POLICY_SECURE, sec.POLICY_NONE):
        cfg = secured(base_cfg, pki["pki"], policy)
        cfg.live.publish.endpoint = endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-monitor/"

        async def go():
            publisher = Publisher(cfg.live)
            await publisher.start()
            try:
                anonymous = Client(endpoint, timeout=10)
                try:
                    await anonymous.connect()
                    await anonymous.disconnect()
                    anonymous_ok = True
                except ua.UaError:
                    anonymous_ok = False
                client = Client(endpoint, timeout=10)
                await sec.secure_client(client, sec.Settings.from_conf(cfg.live.security), sec.PLANNER)
                async with client:
                    idx = await client.get_namespace_index(str(cfg.live.publish.namespace))
                    node = client.get_node(ua.NodeId("Monitor.WarningCount", idx))
                    count = await node.read_value()
                    try:
                        await node.write_value(ua.Variant(5, ua.VariantType.Int64))
                        wrote = True
                    except ua.UaStatusCodeError:
                        wrote = False
                return anonymous_ok, count, wrote, client.security_policy.Mode
            finally:
                await publisher.stop()

        anonymous_ok, count, wrote, mode = asyncio.run(go())
        assert count == 0 and not wrote
        if policy == sec.POLICY_SECURE:
            assert not anonymous_ok and mode == ua.MessageSecurityMode.SignAndEncrypt
        else:
            assert anonymous_ok and mode == ua.MessageSecurityMode.None_


def test_missing_setup_is_one_line_naming_the_command(tmp_path, base_cfg, pki, monkeypatch):
    empty = tmp_path / "empty"
    with pytest.raises(sec.SecurityError, match="opcua_security certs"):
        asyncio.run(sec.secure_client(Client("opc.tcp://127.0.0.1:1/"), settings(empty), sec.MONITOR, password="x"))
    monkeypatch.delenv("TABLET_OPCUA_PASSWORD", raising=False)
    with pytest.raises(sec.SecurityError, match=r"\$TABLET_OPCUA_PASSWORD is not set"):
        asyncio.run(sec.secure_client(Client("opc.tcp://127.0.0.1:1/"), settings(pki["pki"]), sec.MONITOR))
    no_users = tmp_path / "no-users"
    sec.make_certificate(no_users, sec.LINE)
    cfg = secured(base_cfg, no_users)
    with pytest.raises(sec.SecurityError, match="user add"):
        asyncio.run(sec.secure_server(Server(), sec.Settings.from_conf(cfg.live.security), sec.LINE))
    for typo in ("none", None):  # YAML null is not the word None: security stays explicit
        with pytest.raises(sec.SecurityError, match="allowed Basic256Sha256 or None"):
            sec.Settings.from_conf(secured(cfg, no_users, policy=typo).live.security)


def test_commands_make_keys_private_and_store_no_password(tmp_path, monkeypatch):
    pki = tmp_path / "pki"
    sec.main(["certs", "--out", str(pki), "--names", "line", "monitor"])
    monkeypatch.setenv("TABLET_OPCUA_PASSWORD", "correct horse battery")
    sec.main(["user", "add", "monitor", "--pki", str(pki)])
    for key in (pki / "private").iterdir():
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert sorted(p.name for p in (pki / "trusted").iterdir()) == ["line.der", "monitor.der"]
    users = (pki / sec.USERS_FILE).read_text()
    assert "correct horse" not in users and stat.S_IMODE((pki / sec.USERS_FILE).stat().st_mode) == 0o600
    checker = sec.PasswordUsers(sec.read_users(pki / sec.USERS_FILE))
    assert checker.check("monitor", "correct horse battery")
    assert not checker.check("monitor", "correct horse") and not checker.check("nobody", "correct horse battery")


def test_the_planners_server_is_secured_like_the_line(base_cfg, pki):
    """The live planner's own server (Plan.*): policy-None clients refused, a trusted user reads,
    no client writes a plan value."""
    import pandas as pd

    from pipeline.optimize.live.service import PlanPublisher

    cfg = secured(base_cfg, pki["pki"])
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/tablet-planner/"

    async def start():
        publisher = PlanPublisher(cfg.replan, 1, pd.Timestamp("2024-01-01"), sec.Settings.from_conf(cfg.live.security),
                                  endpoint)
        await publisher.start()
        return publisher

    running = ServerThread(start)
    try:
        async def plan_hour(client: Client, write: bool):
            await client.connect()
            try:
                idx = await client.get_namespace_index(str(cfg.replan.publish.namespace))
                node = client.get_node(ua.NodeId("Plan.Hour", idx))
                if write:
                    await node.write_value(ua.Variant(3, ua.VariantType.Int64))
                return await node.read_value()
            finally:
                await client.disconnect()

        with pytest.raises(ua.UaError, match="No matching endpoints"):
            asyncio.run(plan_hour(Client(endpoint, timeout=10), write=False))

        async def as_user(write: bool):
            client = Client(endpoint, timeout=10)
            await sec.secure_client(client, settings(pki["pki"]), sec.PRESSES, password=pki["password"])
            return await plan_hour(client, write)

        assert asyncio.run(as_user(write=False)) == -1   # nothing published yet
        with pytest.raises(ua.UaStatusCodeError) as caught:
            asyncio.run(as_user(write=True))
        assert type(caught.value).__name__ == "BadUserAccessDenied"
    finally:
        running.stop()


def test_allow_writes_opens_only_the_variables_marked_writable(pki, monkeypatch):
    """The press server's lockstep ack: a server made with allow_writes lets a client write the
    variable it marked writable and nothing else."""
    from pipeline.core.opcua_connect import connect_secured, new_client, new_server

    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/writes/"
    security = settings(pki["pki"])
    monkeypatch.setenv(security.password_env, pki["password"])

    class Holder:
        async def stop(self):
            await self.server.stop()

    async def start():
        holder = Holder()
        holder.server = await new_server(endpoint, "writes", security, sec.PRESSES, allow_writes=True)
        idx = await holder.server.register_namespace("urn:test")
        folder = holder.server.nodes.objects
        holder.ack = await folder.add_variable(ua.NodeId("Ack", idx), "Ack", 0.0)
        await holder.ack.set_writable()
        await folder.add_variable(ua.NodeId("Reading", idx), "Reading", 0.0)
        await holder.server.start()
        return holder

    running = ServerThread(start)
    try:
        async def write(name: str):
            client = new_client(endpoint, 10.0)
            await connect_secured(client, security, sec.PLANNER)
            try:
                idx = await client.get_namespace_index("urn:test")
                node = client.get_node(ua.NodeId(name, idx))
                await node.write_value(ua.Variant(5.0, ua.VariantType.Double))
                return await node.read_value()
            finally:
                await client.disconnect()

        assert asyncio.run(write("Ack")) == 5.0
        with pytest.raises(ua.UaStatusCodeError) as caught:
            asyncio.run(write("Reading"))
        assert type(caught.value).__name__ in ("BadUserAccessDenied", "BadNotWritable")
    finally:
        running.stop()
