"""The offline MiniLM embedder: parity with the real model, per-batch padding, never a download."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

from knowledge.build_embedder import (
    MANIFEST,
    ONNX_FOLDER,
    REQUIRED_FILES,
    build,
    is_built,
    main,
    model_folder,
)
from knowledge.embeddings import EmbedderNotBuilt, LocalEmbedder

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "minilm_reference.json").read_text())


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_fresh_build_matches_the_real_model(built_models_dir: Path) -> None:
    vectors = np.array(LocalEmbedder(built_models_dir)(REFERENCE["sentences"]))
    reference = np.array(REFERENCE["vectors"])
    assert vectors.shape == reference.shape == (len(REFERENCE["sentences"]), 384)
    assert _cosines(vectors, reference).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_per_batch_padding_gives_the_stock_vectors(built_models_dir: Path) -> None:
    stock = ONNXMiniLM_L6_V2()
    stock.DOWNLOAD_PATH = model_folder(built_models_dir)  # the stock function, padding everything to 256
    local = LocalEmbedder(built_models_dir, batch_size=4)  # several batches with different padded lengths
    sentences = REFERENCE["sentences"]
    np.testing.assert_allclose(np.array(local(sentences)), np.array(stock(sentences)), atol=2e-6)
    # A text's vector does not depend on what it was batched with.
    one_by_one = np.array([local([s])[0] for s in sentences[:6]])
    np.testing.assert_allclose(one_by_one, np.array(local(sentences[:6])), atol=2e-6)


def test_long_texts_are_truncated_like_the_model(built_models_dir: Path) -> None:
    local = LocalEmbedder(built_models_dir)
    long_text = REFERENCE["sentences"][-1]
    assert len(local.tokenizer.encode(long_text).ids) == 256
    assert _cosines(np.array(local([long_text])), np.array([REFERENCE["vectors"][-1]]))[0] >= 0.9999


def test_missing_files_say_run_make_install_and_never_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads: list[object] = []
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "_download", lambda *args, **kw: downloads.append(args))
    with pytest.raises(EmbedderNotBuilt, match="make install"):
        LocalEmbedder(tmp_path)
    assert downloads == []


def test_files_removed_after_start_raise_instead_of_downloading(
    built_models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = model_folder(tmp_path) / ONNX_FOLDER
    shutil.copytree(model_folder(built_models_dir) / ONNX_FOLDER, copy)
    embedder = LocalEmbedder(tmp_path)
    (copy / "vocab.txt").unlink()
    with pytest.raises(EmbedderNotBuilt, match="make install"):
        embedder(["hello"])
    with pytest.raises(EmbedderNotBuilt):
        embedder._download("https://example.invalid/onnx.tar.gz", str(tmp_path / "x"))


def test_embedding_needs_no_network(built_models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the embedder tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    embedder = LocalEmbedder(built_models_dir)
    assert len(embedder(["Where is my order ORD-104233?"])[0]) == 384


def test_onnxruntime_telemetry_is_off_by_default() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    code = "import os, knowledge.embeddings, onnxruntime; print(os.environ['ORT_DISABLE_TELEMETRY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_builder_is_idempotent_and_repairs_a_damaged_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--dest", str(tmp_path)])
    first = capsys.readouterr().out
    assert first.count("\n") == 1 and "built at" in first
    onnx_dir = model_folder(tmp_path) / ONNX_FOLDER
    assert all((onnx_dir / name).is_file() for name in REQUIRED_FILES)
    assert is_built(tmp_path)

    stamp = (onnx_dir / "model.onnx").stat().st_mtime_ns
    assert build(tmp_path) == (onnx_dir, False)  # valid build: skipped
    assert (onnx_dir / "model.onnx").stat().st_mtime_ns == stamp

    with (onnx_dir / "model.onnx").open("r+b") as handle:  # a truncated model is not "present and valid"
        handle.truncate(1000)
    assert not is_built(tmp_path)
    assert build(tmp_path) == (onnx_dir, True)
    assert is_built(tmp_path) and (onnx_dir / MANIFEST).is_file()


def test_store_embedder_is_registered_under_its_own_name(built_models_dir: Path) -> None:
    """Chroma persists the function's name; ours must never be rebuilt as the downloading stock one."""
    embedder = LocalEmbedder(built_models_dir)
    assert embedder.name() != ONNXMiniLM_L6_V2.name()
    rebuilt = LocalEmbedder.build_from_config(embedder.get_config())
    assert isinstance(rebuilt, LocalEmbedder) and rebuilt.models_dir == built_models_dir
