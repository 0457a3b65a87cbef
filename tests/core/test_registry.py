"""The registry module against a throwaway SQLite store: versions accumulate, the champion
alias moves only to a version that beats its baselines, identifiers are on every version."""
from __future__ import annotations

import mlflow
import numpy as np
import onnx
import pytest
from mlflow.tracking import MlflowClient
from onnx import TensorProto, helper

from pipeline.core import registry

AUDIT = "tablet/promotions"


def tiny_onnx(scale: float) -> onnx.ModelProto:
    """y = scale * x, float32 [batch, 2]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])
    k = helper.make_tensor("k", TensorProto.FLOAT, [1], [scale])
    graph = helper.make_graph([helper.make_node("Mul", ["x", "k"], ["y"])], "tiny", [x], [y], [k])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.fixture
def store(tmp_path, monkeypatch, new_store):
    uri = new_store(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("registry-test")
    return tmp_path


def train_and_register(store, scale: float, beats: bool, name: str = "tiny-model") -> registry.Registration:
    data = store / "data.csv"
    data.write_text(f"x\n{scale}\n")
    with mlflow.start_run():
        info = mlflow.onnx.log_model(tiny_onnx(scale), name="model", pip_requirements=["onnx"],
                                     input_example=np.ones((1, 2), np.float32))
        return registry.register(info.model_uri, name, registry.Verdict(beats, f"score {scale}"), stage="train_tiny",
                                 metrics={"score": scale}, datasets={"train": data}, about="a tiny test model",
                                 audit_experiment=AUDIT)


def test_champion_moves_only_to_a_version_that_beats_its_baselines(store):
    first = train_and_register(store, 1.0, beats=True)
    assert (first.version, first.champion_version, first.is_champion) == ("1", "1", True)
    second = train_and_register(store, 2.0, beats=False)
    assert (second.version, second.champion_version, second.is_champion) == ("2", "1", False)
    assert "does NOT beat its baselines" in second.statement() and "stays on version 1" in second.statement()
    third = train_and_register(store, 3.0, beats=True)
    assert third.champion_version == "3"
    client = MlflowClient()
    versions = sorted(int(v.version) for v in client.search_model_versions("name = 'tiny-model'"))
    assert versions == [1, 2, 3]  # older versions stay
    v2 = client.get_model_version("tiny-model", "2")
    assert v2.tags["beats_baselines"] == "false" and v2.tags["metric.score"] == "2"
    assert len(v2.tags["dataset.train.md5"]) == 32 and v2.tags["git_commit"]
    assert "does NOT beat its baselines" in v2.description


def test_no_champion_is_said_plainly(store):
    reg = train_and_register(store, 1.0, beats=False, name="never")
    assert reg.champion_version is None and "held by no version" in reg.statement()
    with pytest.raises(LookupError, match="registered versions of never: 1;"):
        registry.fetch("models:/never@champion")


def test_fetch_downloads_the_champions_onnx(store, tmp_path):
    train_and_register(store, 1.0, beats=True)
    train_and_register(store, 5.0, beats=True)
    got = registry.fetch("models:/tiny-model@champion", tmp_path / "dl")
    assert got.version == "2" and got.tags["metric.score"] == "5"
    import onnxruntime as ort
    sess = ort.InferenceSession(str(got.path / "model.onnx"), providers=["CPUExecutionProvider"])
    assert sess.run(None, {"x": np.ones((1, 2), np.float32)})[0].tolist() == [[5.0, 5.0]]
    assert registry.fetch("models:/tiny-model/1").version == "1"
    with pytest.raises(LookupError, match="run the training stage"):
        registry.fetch("models:/no-such-model@champion")


def test_promote_by_hand(store):
    train_and_register(store, 1.0, beats=True)
    train_and_register(store, 2.0, beats=False)
    assert registry.promote("tiny-model", "2", "line trial approved", audit_experiment=AUDIT) == "1"
    client = MlflowClient()
    assert client.get_model_version_by_alias("tiny-model", "champion").version == 2
    tags = client.get_model_version("tiny-model", "2").tags
    assert tags["promotion.champion.reason"] == "line trial approved" and "(hand)" in tags["promotion.champion.by"]


def test_dataset_md5_of_a_folder_changes_with_any_file(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("1")
    before = registry.dataset_md5(tmp_path / "d")
    (tmp_path / "d" / "a.txt").write_text("2")
    assert registry.dataset_md5(tmp_path / "d") != before
    with pytest.raises(FileNotFoundError):
        registry.dataset_md5(tmp_path / "missing")


def test_promoting_a_version_that_does_not_exist_names_the_ones_that_do(store):
    train_and_register(store, 1.0, beats=True)
    with pytest.raises(registry.ModelNotFound, match="tiny-model version 7 not found .*registered versions of tiny-model: 1;"):
        registry.promote("tiny-model", "7", "a reason", audit_experiment=AUDIT)
