"""Embedding functions for Chroma: the local MiniLM ONNX model (offline default) and OpenAI (optional)."""

from __future__ import annotations

import os

# onnxruntime >= 1.29 phones home from native code unless this is set before it loads (offline-traps.md).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

from functools import cached_property
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function
from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

from knowledge.build_embedder import ONNX_FOLDER, REQUIRED_FILES, model_folder

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model; longer inputs are truncated


class EmbedderNotBuilt(FileNotFoundError):
    """The ONNX files are missing: they are built at set-up time, never downloaded."""


@register_embedding_function
class LocalEmbedder(ONNXMiniLM_L6_V2):
    """Chroma's MiniLM function on the files built by `knowledge.build_embedder`, padding per batch.

    The stock function pads every input to 256 tokens; padding to the longest input of a length-sorted
    batch gives the same vectors (padded positions are masked out) for a fraction of the work.
    """

    def __init__(self, models_dir: Path | str, batch_size: int = 32, threads: int = 0) -> None:
        super().__init__(preferred_providers=["CPUExecutionProvider"])
        self.models_dir = Path(models_dir)
        self.batch_size = batch_size
        self.threads = threads  # 0: onnxruntime's default (one per physical core)
        # Instance attribute: the stock class reads files from `DOWNLOAD_PATH / "onnx"`.
        self.DOWNLOAD_PATH = model_folder(self.models_dir)
        missing = self.missing_files()
        if missing:
            raise EmbedderNotBuilt(
                f"The local embedding model is not built in {self.DOWNLOAD_PATH / ONNX_FOLDER} "
                f"(missing {', '.join(missing)}); run `make install` "
                f"(or `python -m knowledge.build_embedder --dest {self.models_dir}`)."
            )

    def missing_files(self) -> list[str]:
        folder = self.DOWNLOAD_PATH / ONNX_FOLDER
        return [name for name in REQUIRED_FILES if not (folder / name).is_file()]

    def warm_up(self) -> None:
        """Load the tokenizer and the ONNX session now rather than on the first request."""
        _ = self.tokenizer, self.model

    # --- never download --------------------------------------------------------------------------
    def _download_model_if_not_exists(self) -> None:
        if self.missing_files():
            raise EmbedderNotBuilt(f"model files missing under {self.DOWNLOAD_PATH}; run `make install`")

    def _download(self, url: str, fname: str, chunk_size: int = 1024) -> None:  # type: ignore[override]
        raise EmbedderNotBuilt(f"refusing to download {url}: build the model with `make install`")

    @cached_property
    def model(self) -> Any:
        options = self.ort.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.threads
        # Spinning worker threads burn the cores that Presidio and the API share with us; measured here
        # with other load on 2 cores, blocking threads embedded ~25% more chunks per second.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # The arena keeps the largest batch's buffers for the life of the process: ingesting 32 long chunks
        # once left ~170 MB resident for good. Without it a query allocates a few MB per run and frees them.
        options.enable_cpu_mem_arena = False
        path = self.DOWNLOAD_PATH / ONNX_FOLDER / "model.onnx"
        return self.ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])

    # --- per-batch padding -----------------------------------------------------------------------
    @cached_property
    def tokenizer(self) -> Any:
        tokenizer = self.Tokenizer.from_file(str(self.DOWNLOAD_PATH / ONNX_FOLDER / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # no length: pad to the batch's longest
        return tokenizer

    def _forward(self, documents: list[str], batch_size: int = 32) -> npt.NDArray[np.float32]:
        if not documents:
            return np.zeros((0, 384), dtype=np.float32)
        # Sort by length so each batch holds similar lengths and little padding.
        order = sorted(range(len(documents)), key=lambda i: len(documents[i]))
        out = np.empty((len(documents), 384), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            encoded = self.tokenizer.encode_batch([documents[i] for i in idx])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.model.run(None, feeds)[0]
            # Mean pooling over real tokens, then L2 normalisation, exactly as the stock function does.
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[idx] = self._normalize(pooled).astype(np.float32)
        return out

    # --- chroma's configuration protocol ---------------------------------------------------------
    @staticmethod
    def name() -> str:
        return "deskpilot_local_minilm"

    def get_config(self) -> dict[str, Any]:
        return {"models_dir": str(self.models_dir)}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> EmbeddingFunction[Documents]:
        return LocalEmbedder(Path(config["models_dir"]))

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if not isinstance(config.get("models_dir"), str):
            raise ValueError("deskpilot_local_minilm needs a models_dir")


@register_embedding_function
class OpenAIEmbedder(EmbeddingFunction[Documents]):
    """OpenAI embeddings (`text-embedding-3-small` by default) for users with a key; no local model."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str = "text-embedding-3-small",
        batch_size: int = 256,
        timeout_s: float = 30.0,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.model_name = model
        self.batch_size = batch_size
        self.timeout_s = timeout_s

    @cached_property
    def client(self) -> Any:
        from openai import OpenAI

        return OpenAI(api_key=self.api_key, base_url=self.base_url, timeout=self.timeout_s)

    def __call__(self, input: Documents) -> Embeddings:
        vectors: list[npt.NDArray[np.float32]] = []
        for start in range(0, len(input), self.batch_size):
            response = self.client.embeddings.create(
                model=self.model_name, input=list(input[start : start + self.batch_size])
            )
            ordered = sorted(response.data, key=lambda item: item.index)
            vectors.extend(np.asarray(item.embedding, dtype=np.float32) for item in ordered)
        return cast(Embeddings, vectors)

    @staticmethod
    def name() -> str:
        return "deskpilot_openai"

    def default_space(self) -> Space:
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        # The key is never persisted in Chroma's collection configuration.
        return {"model": self.model_name, "base_url": self.base_url}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> EmbeddingFunction[Documents]:
        return OpenAIEmbedder(
            base_url=config.get("base_url"), model=config.get("model", "text-embedding-3-small")
        )
