#!/usr/bin/env python3
"""Train vib3's small Mixtral-architecture MoE (issue 7) on the .NET documentation corpus, in one device call.

Pipeline (everything inside one process, under a hard wall-clock deadline):
  1. byte-level BPE tokenizer (HF `tokenizers`, vocab 4096, specials <unk>=0 <s>=1 </s>=2) on the train split;
  2. tokenize the corpus: every document becomes <s> doc </s>, all concatenated;
  3. MixtralForCausalLM built from a MixtralConfig (no download): RMSNorm, RoPE, GQA, 8 experts top-2, SwiGLU,
     router load-balancing loss; AdamW + warmup/cosine, bf16 autocast, random 256-token windows;
  4. save the bf16 checkpoint in the classic Mixtral layout vib3 reads
     (model.layers.{l}.block_sparse_moe.experts.{e}.w1/w2/w3.weight, shards < 16 MB) with the tokenizer files,
     then tar + split it into <= 15 MiB pieces under --out, immediately;
  5. reload that checkpoint with transformers in float32, check it equals the trained weights, write reference
     logits for a fixed token sequence (CPU, float32, eager attention), held-out perplexity, sample generations,
     loss_curve.png and train_log.json; pack again.

Files under --out (at most 8, each <= 15 MiB): ckpt.tar.part-aa, ckpt.tar.part-ab[, ...], train_log.json,
loss_curve.png, ref_logits.safetensors.  Reassemble with: cat ckpt.tar.part-* > ckpt.tar && tar xf ckpt.tar

  python3 tools/train/train_moe.py --smoke --out /tmp/smoke      # end to end in well under a minute
  python3 tools/train/train_moe.py --minutes 6 --out "$OUT"     # the real run (whole process < 8.5 minutes)
  python3 tools/train/train_moe.py --dry-run --out /tmp/dry     # no torch: data loading, packing self-tests
"""
import time

T0 = time.time()

import argparse  # noqa: E402
import gzip  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import traceback  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PART_PREFIX = "ckpt.tar.part-"
CKPT_DIR_NAME = "vib3-moe"
UNK, BOS, EOS = "<unk>", "<s>", "</s>"
REF_TEXT = ("Initializes a new instance of the String class to the value indicated by a specified pointer "
            "to an array of Unicode characters.")
REF_TOKENS = 24
PROMPTS = [
    "Initializes a new instance of the",
    "Gets or sets a value that indicates whether",
    "Returns a string that represents the current",
    "The exception that is thrown when",
    "Provides methods for",
    "Represents a collection of",
]


def log(*parts):
    print(f"[{time.time() - T0:7.1f}s]", *parts, flush=True)


# ----------------------------------------------------------------------------------------------- arguments

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description="Train vib3's small Mixtral MoE (issue 7).")
    ap.add_argument("--out", required=True, help="output folder (the device call's $OUT)")
    ap.add_argument("--data", default=os.path.join(REPO, ".train"), help="folder with corpus-{train,valid}.txt[.gz]")
    ap.add_argument("--minutes", type=float, default=6.0, help="training wall-clock budget")
    ap.add_argument("--deadline-minutes", type=float, default=8.4,
                    help="hard limit for the whole process; training is cut short to keep it")
    ap.add_argument("--reserve-seconds", type=float, default=75.0, help="time kept for everything after training")
    ap.add_argument("--smoke", action="store_true", help="tiny end-to-end run (seconds of training, data slice)")
    ap.add_argument("--dry-run", action="store_true", help="no torch: load data, self-test packing, then stop")
    ap.add_argument("--seed", type=int, default=1234)
    # tokenizer
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--tok-train-mb", type=float, default=64.0, help="cap on the text used to train the tokenizer")
    # model
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--head-dim", type=int, default=32)
    ap.add_argument("--intermediate", type=int, default=256)
    ap.add_argument("--experts", type=int, default=8)
    ap.add_argument("--topk", type=int, default=2)
    ap.add_argument("--max-pos", type=int, default=1024)
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--rms-eps", type=float, default=1e-5)
    ap.add_argument("--tie", action="store_true", help="tie input and output embeddings")
    ap.add_argument("--max-ckpt-mb", type=float, default=20.0, help="refuse to train a model whose bf16 weights exceed this (MB)")
    # training
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=150, help="warmup steps")
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--aux-coef", type=float, default=0.02, help="router_aux_loss_coef")
    ap.add_argument("--max-steps", type=int, default=0, help="0 = until the time budget is spent")
    ap.add_argument("--max-epochs", type=float, default=20.0,
                    help="cap on passes over the train tokens (0 = none); the cosine runs over whichever of "
                         "time and epochs ends first, so the learning rate is decayed when training stops")
    ap.add_argument("--log-every", type=int, default=25, help="record the train loss every N steps")
    ap.add_argument("--print-every-s", type=float, default=10.0, help="print a progress line at most this often")
    ap.add_argument("--eval-every-s", type=float, default=20.0)
    ap.add_argument("--eval-windows", type=int, default=128, help="held-out windows in each periodic evaluation")
    ap.add_argument("--experts-impl", default="auto", help="auto | eager | grouped_mm | batched_mm | default")
    # output
    ap.add_argument("--max-shard-mb", type=float, default=15.0, help="safetensors shard size (decimal MB)")
    ap.add_argument("--part-mib", type=float, default=15.0, help="tar piece size (MiB)")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    args = ap.parse_args(argv)
    if args.smoke:
        args.minutes = min(args.minutes, 0.15)
        args.deadline_minutes = min(args.deadline_minutes, 1.5)
        args.reserve_seconds = min(args.reserve_seconds, 30.0)
        args.batch = min(args.batch, 16)
        args.warmup = min(args.warmup, 5)
        args.log_every = min(args.log_every, 5)
        args.print_every_s = 0.0
        args.eval_every_s = min(args.eval_every_s, 4.0)
        args.eval_windows = min(args.eval_windows, 8)
        args.max_steps = args.max_steps or 40
        args.max_new_tokens = min(args.max_new_tokens, 12)
    return args


# ----------------------------------------------------------------------------------------------- data

def corpus_path(data_dir, split):
    for suffix in (".txt.gz", ".txt"):
        p = os.path.join(data_dir, f"corpus-{split}{suffix}")
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"no corpus-{split}.txt[.gz] in {data_dir}: run tools/train/extract_corpus.py first")


def read_docs(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        text = f.read()
    return [d.strip() for d in text.split("\n\n") if d.strip()]


def load_corpus(args):
    train = read_docs(corpus_path(args.data, "train"))
    valid = read_docs(corpus_path(args.data, "valid"))
    if args.smoke:
        train, valid = train[:4000], valid[:300]
    return train, valid


# ----------------------------------------------------------------------------------------------- safetensors / packing (pure Python)

def safetensors_header(path):
    """The JSON header of a .safetensors file (tensor name -> dtype/shape/offsets)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n).decode("utf-8"))


def plan_shards(named_sizes, max_bytes):
    """Greedy, order-preserving grouping of (name, nbytes) into shards of at most max_bytes (a lone larger
    tensor gets its own shard)."""
    shards, cur, cur_bytes = [], [], 0
    for name, nbytes in named_sizes:
        if cur and cur_bytes + nbytes > max_bytes:
            shards.append(cur)
            cur, cur_bytes = [], 0
        cur.append(name)
        cur_bytes += nbytes
    if cur:
        shards.append(cur)
    return shards


def shard_file_names(count):
    if count == 1:
        return ["model.safetensors"]
    return [f"model-{i + 1:05d}-of-{count:05d}.safetensors" for i in range(count)]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_tar(tar_path, entries):
    """entries: list of (source path, name in tar); folders are added recursively in sorted order."""
    def add(tar, src, arc):
        if os.path.isdir(src):
            for name in sorted(os.listdir(src)):
                add(tar, os.path.join(src, name), f"{arc}/{name}")
        else:
            info = tar.gettarinfo(src, arcname=arc)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = int(T0)
            with open(src, "rb") as f:
                tar.addfile(info, f)

    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
        for src, arc in entries:
            if os.path.exists(src):
                add(tar, src, arc)


def split_suffixes():
    letters = "abcdefghijklmnopqrstuvwxyz"
    for a in letters:
        for b in letters:
            yield a + b


def split_file(path, out_dir, part_bytes, prefix=PART_PREFIX):
    """Like `split -b`: out_dir/prefix-aa, -ab, ... ; removes stale pieces first. Returns the piece names."""
    for name in os.listdir(out_dir):
        if name.startswith(prefix):
            os.remove(os.path.join(out_dir, name))
    names = []
    with open(path, "rb") as f:
        for suffix in split_suffixes():
            block = f.read(part_bytes)
            if not block:
                break
            name = prefix + suffix
            with open(os.path.join(out_dir, name), "wb") as g:
                g.write(block)
            names.append(name)
    return names


def pack(out_dir, work_dir, entries, part_bytes, top_files):
    """Tar the entries, split the tar into pieces under out_dir, copy top_files (paths) to out_dir.
    Returns a description for the log."""
    tar_path = os.path.join(work_dir, "ckpt.tar")
    make_tar(tar_path, entries)
    parts = split_file(tar_path, out_dir, part_bytes)
    info = {"tar_bytes": os.path.getsize(tar_path), "tar_sha256": sha256_file(tar_path), "parts": parts,
            "reassemble": f"cat {PART_PREFIX}* > ckpt.tar && tar xf ckpt.tar"}
    os.remove(tar_path)
    for src in top_files:
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(out_dir, os.path.basename(src)))
    files = sorted(os.listdir(out_dir))
    info["out_files"] = {n: os.path.getsize(os.path.join(out_dir, n)) for n in files}
    return info


def check_out_limits(out_dir, max_files=8, max_file=16 * 1024 * 1024, max_total=64 * 1024 * 1024):
    files = [os.path.join(out_dir, n) for n in os.listdir(out_dir)]
    sizes = [os.path.getsize(p) for p in files if os.path.isfile(p)]
    problems = []
    if len(files) > max_files:
        problems.append(f"{len(files)} files under --out (limit {max_files})")
    if sizes and max(sizes) > max_file:
        problems.append(f"a file of {max(sizes)} bytes (limit {max_file})")
    if sum(sizes) > max_total:
        problems.append(f"{sum(sizes)} bytes in all (limit {max_total})")
    return problems


# ----------------------------------------------------------------------------------------------- Mixtral layout

def classic_name_map(layers, experts, tie):
    """The tensor names (and nothing else) that vib3's catalog/families/mixtral.json expects."""
    names = ["model.embed_tokens.weight", "model.norm.weight"]
    if not tie:
        names.append("lm_head.weight")
    for l in range(layers):
        p = f"model.layers.{l}."
        names += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight",
                  p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                  p + "self_attn.v_proj.weight", p + "self_attn.o_proj.weight",
                  p + "block_sparse_moe.gate.weight"]
        for e in range(experts):
            names += [f"{p}block_sparse_moe.experts.{e}.w{i}.weight" for i in (1, 2, 3)]
    return names


def _t(x):
    return x.t() if hasattr(x, "t") else x.T


def to_classic(state, hidden, intermediate, experts, tie):
    """Map a MixtralForCausalLM state dict (transformers 5 fused layout `mlp.experts.gate_up_proj` [E, 2I, H] /
    `mlp.experts.down_proj` [E, H, I] / `mlp.gate.weight`, or the classic per-expert layout) to the classic
    Mixtral checkpoint names. Values are views; the caller makes them contiguous."""
    out = {}
    H, I, E = hidden, intermediate, experts
    for k, v in state.items():
        if k.endswith("rotary_emb.inv_freq"):
            continue
        if tie and k == "lm_head.weight":
            continue
        if k.endswith(".mlp.experts.gate_up_proj"):
            p = k[: -len(".mlp.experts.gate_up_proj")]
            shape = tuple(v.shape)
            if shape == (E, 2 * I, H):
                for e in range(E):
                    out[f"{p}.block_sparse_moe.experts.{e}.w1.weight"] = v[e, :I, :]
                    out[f"{p}.block_sparse_moe.experts.{e}.w3.weight"] = v[e, I:, :]
            elif shape == (E, H, 2 * I):  # transposed storage
                for e in range(E):
                    out[f"{p}.block_sparse_moe.experts.{e}.w1.weight"] = _t(v[e, :, :I])
                    out[f"{p}.block_sparse_moe.experts.{e}.w3.weight"] = _t(v[e, :, I:])
            else:
                raise ValueError(f"{k}: unexpected shape {shape}")
            continue
        if k.endswith(".mlp.experts.down_proj"):
            p = k[: -len(".mlp.experts.down_proj")]
            shape = tuple(v.shape)
            if shape == (E, H, I):
                for e in range(E):
                    out[f"{p}.block_sparse_moe.experts.{e}.w2.weight"] = v[e]
            elif shape == (E, I, H):
                for e in range(E):
                    out[f"{p}.block_sparse_moe.experts.{e}.w2.weight"] = _t(v[e])
            else:
                raise ValueError(f"{k}: unexpected shape {shape}")
            continue
        k2 = k.replace(".mlp.gate.", ".block_sparse_moe.gate.").replace(".mlp.experts.", ".block_sparse_moe.experts.")
        out[k2] = v
    return out


def expected_shapes(args, vocab):
    H, I, q, kv = args.hidden, args.intermediate, args.heads * args.head_dim, args.kv_heads * args.head_dim
    shapes = {}
    for n in classic_name_map(args.layers, args.experts, args.tie):
        if n.endswith("embed_tokens.weight") or n == "lm_head.weight":
            s = (vocab, H)
        elif n.endswith("norm.weight") or n.endswith("layernorm.weight"):
            s = (H,)
        elif n.endswith("q_proj.weight"):
            s = (q, H)
        elif n.endswith("k_proj.weight") or n.endswith("v_proj.weight"):
            s = (kv, H)
        elif n.endswith("o_proj.weight"):
            s = (H, q)
        elif n.endswith("gate.weight"):
            s = (args.experts, H)
        elif n.endswith("w2.weight"):
            s = (H, I)
        else:
            s = (I, H)
        shapes[n] = s
    return shapes


def param_arithmetic(args, vocab):
    H, I, E = args.hidden, args.intermediate, args.experts
    q, kv = args.heads * args.head_dim, args.kv_heads * args.head_dim
    emb = vocab * H
    attn = H * q + 2 * H * kv + q * H
    router = E * H
    expert = 3 * H * I
    norms = 2 * H
    layer = attn + router + E * expert + norms
    total = emb * (1 if args.tie else 2) + args.layers * layer + H
    active = emb * (1 if args.tie else 2) + args.layers * (attn + router + args.topk * expert + norms) + H
    return {"embedding": emb, "lm_head": 0 if args.tie else emb, "attention_per_layer": attn, "router_per_layer": router,
            "one_expert": expert, "experts_per_layer": E * expert, "norms_per_layer": norms, "layer": layer,
            "final_norm": H, "total": total, "active_per_token": active, "bf16_bytes": 2 * total}


# ----------------------------------------------------------------------------------------------- dry run (no torch)

class _FakeTensor:
    """Just enough of a 3-D/2-D array for to_classic's self-test without numpy or torch."""

    def __init__(self, data):
        self.data = data

    @property
    def shape(self):
        s, d = [], self.data
        while isinstance(d, list):
            s.append(len(d))
            d = d[0] if d else None
        return tuple(s)

    def __getitem__(self, idx):
        if not isinstance(idx, tuple):
            idx = (idx,)
        def sel(d, ix):
            if not ix:
                return d
            first, rest = ix[0], ix[1:]
            if isinstance(first, int):
                return sel(d[first], rest)
            return [sel(x, rest) for x in d[first]]
        return _FakeTensor(sel(self.data, idx))

    @property
    def T(self):
        return _FakeTensor([list(r) for r in zip(*self.data)])


def dry_run(args):
    train, valid = load_corpus(args)
    chars = sum(map(len, train)), sum(map(len, valid))
    log(f"corpus: train {len(train)} docs / {chars[0]} chars, valid {len(valid)} docs / {chars[1]} chars")
    log("first train doc:", json.dumps(train[0])[:200])

    # to_classic on the fused layout: E=2, I=2, H=3; values encode (e, row, col).
    E, I, H = 2, 2, 3
    gu = _FakeTensor([[[100 * e + 10 * r + c for c in range(H)] for r in range(2 * I)] for e in range(E)])
    dn = _FakeTensor([[[100 * e + 10 * r + c for c in range(I)] for r in range(H)] for e in range(E)])
    sd = {"model.layers.0.mlp.experts.gate_up_proj": gu, "model.layers.0.mlp.experts.down_proj": dn,
          "model.layers.0.mlp.gate.weight": _FakeTensor([[1, 2, 3], [4, 5, 6]]), "lm_head.weight": _FakeTensor([[0]])}
    c = to_classic(sd, H, I, E, tie=False)
    assert c["model.layers.0.block_sparse_moe.experts.1.w1.weight"].data == [[100, 101, 102], [110, 111, 112]]
    assert c["model.layers.0.block_sparse_moe.experts.1.w3.weight"].data == [[120, 121, 122], [130, 131, 132]]
    assert c["model.layers.0.block_sparse_moe.experts.0.w2.weight"].data == [[0, 1], [10, 11], [20, 21]]
    assert "model.layers.0.block_sparse_moe.gate.weight" in c and "lm_head.weight" in c
    gt = _FakeTensor([[[100 * e + 10 * r + c for c in range(2 * I)] for r in range(H)] for e in range(E)])
    c2 = to_classic({"x.mlp.experts.gate_up_proj": gt}, H, I, E, tie=False)
    assert c2["x.block_sparse_moe.experts.1.w3.weight"].data == [[102, 112, 122], [103, 113, 123]]
    log("to_classic self-test ok")

    ar = param_arithmetic(args, args.vocab)
    log("parameter arithmetic:", json.dumps(ar))
    names = classic_name_map(args.layers, args.experts, args.tie)
    shapes = expected_shapes(args, args.vocab)
    assert sum(math.prod(s) for s in shapes.values()) == ar["total"], "shape table disagrees with the arithmetic"
    shards = plan_shards([(n, 2 * math.prod(shapes[n])) for n in names], int(args.max_shard_mb * 1e6))
    log(f"{len(names)} tensors -> {len(shards)} shards {shard_file_names(len(shards))} "
        f"of {[sum(2 * math.prod(shapes[n]) for n in s) for s in shards]} bytes")

    # Packing self-test with a fake checkpoint of the real size.
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="vib3-dry-")
    try:
        ck = os.path.join(work, CKPT_DIR_NAME)
        os.makedirs(ck)
        rng = random.Random(1)
        for i, s in enumerate(shards):
            with open(os.path.join(ck, shard_file_names(len(shards))[i]), "wb") as f:
                f.write(rng.randbytes(sum(2 * math.prod(shapes[n]) for n in s)))
        with open(os.path.join(work, "train_log.json"), "w") as f:
            json.dump({"dry_run": True}, f)
        info = pack(args.out, work, [(ck, CKPT_DIR_NAME), (os.path.join(work, "train_log.json"), "report/train_log.json")],
                    int(args.part_mib * 1024 * 1024), [os.path.join(work, "train_log.json")])
        log("pack:", json.dumps(info))
        joined = os.path.join(work, "joined.tar")
        with open(joined, "wb") as g:
            for p in info["parts"]:
                with open(os.path.join(args.out, p), "rb") as f:
                    g.write(f.read())
        assert sha256_file(joined) == info["tar_sha256"], "reassembled tar differs"
        with tarfile.open(joined) as tar:
            log("tar members:", [m.name for m in tar.getmembers()])
        problems = check_out_limits(args.out)
        assert not problems, problems
        log("packing self-test ok; --out limits ok")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log("dry run done (torch not imported)")


# ----------------------------------------------------------------------------------------------- tokenizer

def train_tokenizer(args, train_docs, out_dir):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=args.vocab, min_frequency=2, show_progress=False,
                                  special_tokens=[UNK, BOS, EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    budget, used = int(args.tok_train_mb * 1e6), []
    total = 0
    for d in train_docs:
        if total >= budget:
            break
        used.append(d)
        total += len(d)
    tok.train_from_iterator(used, trainer=trainer, length=len(used))
    ids = {t: tok.token_to_id(t) for t in (UNK, BOS, EOS)}
    tok.post_processor = processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
                                                       special_tokens=[(BOS, ids[BOS])])
    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))

    added = {str(ids[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                           "single_word": False, "special": True} for t in (UNK, BOS, EOS)}
    config = {"add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": added,
              "bos_token": BOS, "eos_token": EOS, "unk_token": UNK, "pad_token": None,
              "clean_up_tokenization_spaces": False, "model_max_length": args.max_pos,
              "tokenizer_class": "PreTrainedTokenizerFast"}
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": BOS, "eos_token": EOS, "unk_token": UNK}, f, indent=2)

    with open(os.path.join(out_dir, "tokenizer.json")) as f:
        tj = json.load(f)
    fmt = {"model_type": tj["model"]["type"], "pre_tokenizer": (tj.get("pre_tokenizer") or {}).get("type"),
           "decoder": (tj.get("decoder") or {}).get("type"),
           "post_processor": (tj.get("post_processor") or {}).get("type"),
           "merges_format": type(tj["model"]["merges"][0]).__name__ if tj["model"].get("merges") else None,
           "vocab_size": tok.get_vocab_size(), "special_ids": ids, "docs_used": len(used), "chars_used": total}
    if fmt["model_type"] != "BPE" or fmt["pre_tokenizer"] != "ByteLevel" or fmt["decoder"] != "ByteLevel":
        log("WARNING: tokenizer.json is not the plain ByteLevel BPE layout vib3 expects:", fmt)
    return tok, ids, fmt


def tokenize_stream(tok, docs, bos, eos, chunk=4096):
    import numpy as np

    def enc(batch):
        fast = getattr(tok, "encode_batch_fast", None)
        if fast is not None:
            try:
                return fast(batch, add_special_tokens=False)
            except TypeError:
                pass
        return tok.encode_batch(batch, add_special_tokens=False)

    parts = []
    for i in range(0, len(docs), chunk):
        for e in enc(docs[i:i + chunk]):
            parts.append([bos] + e.ids + [eos])
    flat = [t for p in parts for t in p]
    return np.asarray(flat, dtype=np.uint16 if max(flat) < 65536 else np.int32)


# ----------------------------------------------------------------------------------------------- main run

def main(argv=None):
    args = parse_args(argv)
    if args.dry_run:
        dry_run(args)
        return 0
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing can be downloaded on the device machine anyway
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    deadline = T0 + args.deadline_minutes * 60.0
    os.makedirs(args.out, exist_ok=True)
    for name in os.listdir(args.out):  # a rerun into the same folder starts clean
        p = os.path.join(args.out, name)
        if os.path.isfile(p) and (name.startswith(PART_PREFIX) or name in ("train_log.json", "loss_curve.png", "ref_logits.safetensors")):
            os.remove(p)
    work = tempfile.mkdtemp(prefix="vib3-train-")
    ckpt = os.path.join(work, CKPT_DIR_NAME)
    os.makedirs(ckpt)
    part_bytes = int(args.part_mib * 1024 * 1024)
    R = {"args": vars(args), "mode": "smoke" if args.smoke else "full", "errors": [], "python": sys.version,
         "host": platform.node()}
    log_path = os.path.join(work, "train_log.json")
    png_path = os.path.join(work, "loss_curve.png")
    ref_path = os.path.join(work, "ref_logits.safetensors")

    def write_log():
        R["wall_seconds"] = round(time.time() - T0, 2)
        with open(log_path, "w") as f:
            json.dump(R, f, indent=1, default=str)

    def entries():
        e = [(ckpt, CKPT_DIR_NAME)]
        for name in ("ref_logits.safetensors", "ref_logits.npy", "ref_tokens.json"):
            e.append((os.path.join(work, name), f"reference/{name}"))
        e += [(log_path, "report/train_log.json"), (png_path, "report/loss_curve.png")]
        if R.get("include_native"):
            e.append((os.path.join(work, "hf_native"), "hf_native"))
        return e

    def do_pack(stage):
        write_log()
        info = pack(args.out, work, entries(), part_bytes, [log_path, png_path, ref_path])
        problems = check_out_limits(args.out)
        if problems and R.get("include_native"):
            R["include_native"] = False
            R["errors"].append(f"dropped hf_native from the tar: {problems}")
            info = pack(args.out, work, entries(), part_bytes, [log_path, png_path, ref_path])
            problems = check_out_limits(args.out)
        info["limit_problems"] = problems
        R["pack"] = info
        write_log()
        shutil.copyfile(log_path, os.path.join(args.out, "train_log.json"))
        log(f"packed ({stage}): {info['tar_bytes']} bytes tar -> {info['parts']}; out files {info['out_files']}"
            + (f"; PROBLEMS {problems}" if problems else ""))

    # ---- data and tokenizer
    train_docs, valid_docs = load_corpus(args)
    R["corpus"] = {"train_docs": len(train_docs), "valid_docs": len(valid_docs),
                   "train_chars": sum(map(len, train_docs)), "valid_chars": sum(map(len, valid_docs))}
    log(f"corpus: {R['corpus']}")
    tok, sid, fmt = train_tokenizer(args, train_docs, ckpt)
    R["tokenizer"] = fmt
    log(f"tokenizer: {fmt}")
    import numpy as np

    train_ids = tokenize_stream(tok, train_docs, sid[BOS], sid[EOS])
    valid_ids = tokenize_stream(tok, valid_docs, sid[BOS], sid[EOS])
    R["corpus"].update(train_tokens=int(train_ids.size), valid_tokens=int(valid_ids.size),
                       chars_per_token_valid=round(R["corpus"]["valid_chars"] / max(1, valid_ids.size - 2 * len(valid_docs)), 3))
    log(f"tokens: train {train_ids.size}, valid {valid_ids.size}")

    # ---- torch, model
    import torch
    import torch.nn.functional as F
    import transformers
    from transformers import MixtralConfig, MixtralForCausalLM

    R["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                     "tokenizers": __import__("tokenizers").__version__, "numpy": np.__version__}
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    R["device"] = torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"
    log(f"versions {R['versions']}; device {R['device']}")
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    try:  # float32 matmuls stay true float32 (the default; reference logits are computed on the CPU anyway)
        torch.set_float32_matmul_precision("highest")
    except Exception as e:  # noqa: BLE001
        R["errors"].append(f"set_float32_matmul_precision: {e}")

    vocab = args.vocab
    if tok.get_vocab_size() > vocab:
        raise SystemExit(f"tokenizer has {tok.get_vocab_size()} tokens > --vocab {vocab}")
    cfg_kwargs = dict(
        vocab_size=vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.kv_heads,
        head_dim=args.head_dim, hidden_act="silu", max_position_embeddings=args.max_pos,
        initializer_range=0.02, rms_norm_eps=args.rms_eps, use_cache=True,
        pad_token_id=None, bos_token_id=sid[BOS], eos_token_id=sid[EOS], tie_word_embeddings=args.tie,
        sliding_window=None, attention_dropout=0.0, num_experts_per_tok=args.topk, num_local_experts=args.experts,
        output_router_logits=True, router_aux_loss_coef=args.aux_coef, router_jitter_noise=0.0,
        rope_parameters={"rope_type": "default", "rope_theta": float(args.rope_theta)},
    )
    try:
        config = MixtralConfig(**cfg_kwargs)
    except Exception as e:  # noqa: BLE001  (an older transformers without rope_parameters)
        R["errors"].append(f"MixtralConfig(rope_parameters=...) failed ({e}); using rope_theta")
        cfg_kwargs.pop("rope_parameters")
        config = MixtralConfig(rope_theta=float(args.rope_theta), **cfg_kwargs)
    rp = getattr(config, "rope_parameters", None)
    if not (isinstance(rp, dict) and float(rp.get("rope_theta", -1)) == float(args.rope_theta)):
        if float(getattr(config, "rope_theta", -1) or -1) != float(args.rope_theta):
            R["errors"].append(f"rope theta not where expected: rope_parameters={rp}")
    try:
        config.architectures = ["MixtralForCausalLM"]
    except Exception as e:  # noqa: BLE001  (save_pretrained sets it anyway)
        R["errors"].append(f"config.architectures: {e}")
    model = MixtralForCausalLM(config)
    n_params = sum(p.numel() for p in model.parameters())
    arith = param_arithmetic(args, vocab)
    R["params"] = {"counted": n_params, "arithmetic": arith}
    log(f"model: {n_params} parameters (arithmetic {arith['total']}, active per token {arith['active_per_token']}), "
        f"bf16 {2 * n_params / 1e6:.2f} MB")
    if n_params != arith["total"]:
        R["errors"].append(f"parameter count {n_params} differs from the arithmetic {arith['total']}")
    if 2 * n_params > args.max_ckpt_mb * 1e6:
        raise SystemExit(f"bf16 checkpoint would be {2 * n_params / 1e6:.2f} MB > {args.max_ckpt_mb} MB")
    with torch.no_grad():  # defensive: nothing may start out uninitialised
        for name, p in model.named_parameters():
            if not torch.isfinite(p).all() or p.abs().max() > 50:
                R["errors"].append(f"re-initialised {name} (bad initial values)")
                if p.dim() == 1:
                    p.fill_(1.0)
                else:
                    p.normal_(0.0, 0.02)
    inv = [b for n, b in model.named_buffers() if n.endswith("inv_freq")]
    if inv:
        want = float(args.rope_theta) ** (-2.0 / args.head_dim)
        R["rope_check"] = {"inv_freq[1]": float(inv[0][1]), "expected": want, "len": int(inv[0].numel())}
        if abs(float(inv[0][1]) - want) > 1e-6 * max(1.0, want):
            R["errors"].append(f"rotary inv_freq[1]={float(inv[0][1])} but theta {args.rope_theta} gives {want}")
    R["state_dict_keys_sample"] = sorted(model.state_dict().keys())[:16]
    R["model_config"] = config.to_dict()
    model.to(dev)
    model.train()

    # ---- data on the device
    train_t = torch.from_numpy(train_ids.astype(np.int64)).to(dev)
    valid_t = torch.from_numpy(valid_ids.astype(np.int64)).to(dev)
    T, B = args.seq, args.batch
    offs = torch.arange(T + 1, device=dev)
    gen = torch.Generator(device=dev)
    gen.manual_seed(args.seed)
    n_valid_windows = max(1, (valid_t.numel() - 1) // T)
    valid_starts = torch.arange(n_valid_windows, device=dev) * T  # window i predicts tokens iT+1 .. iT+T
    valid_starts = valid_starts[valid_starts + T + 1 <= valid_t.numel()]
    amp = dict(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda")

    def batch_at(starts, src):
        b = src[starts[:, None] + offs]
        return b[:, :-1], b[:, 1:]

    def random_batch():
        starts = torch.randint(0, train_t.numel() - T - 1, (B,), device=dev, generator=gen)
        return batch_at(starts, train_t)

    def lb_loss(router_logits):
        logits = torch.cat([r.float().reshape(-1, args.experts) for r in router_logits], dim=0)
        probs = torch.softmax(logits, dim=-1)
        _, sel = torch.topk(probs, args.topk, dim=-1)
        mask = F.one_hot(sel, args.experts).float()
        return (mask.mean(0) * probs.mean(0).unsqueeze(0)).sum() * args.experts

    def forward_losses(x, y):
        with torch.autocast(**amp):
            # explicit: some transformers 5 models read output_router_logits from the call, not the config
            out = model(input_ids=x, use_cache=False, output_router_logits=True)
        ce = F.cross_entropy(out.logits.float().reshape(-1, out.logits.shape[-1]), y.reshape(-1))
        aux = getattr(out, "aux_loss", None)
        source = "transformers aux_loss"
        if not torch.is_tensor(aux):
            rl = getattr(out, "router_logits", None)
            if torch.is_tensor(rl):
                rl = (rl,)
            if rl is not None and len(rl) > 0:
                aux, source = lb_loss(rl), "own load-balancing loss from router_logits"
            else:
                aux, source = torch.zeros((), device=dev), "NONE (no aux_loss, no router_logits)"
        if R.get("aux_source") != source:
            R["aux_source"] = source
            log(f"load-balancing loss: {source}")
            if source.startswith("NONE"):
                R["errors"].append("training without a load-balancing loss: the model returned neither aux_loss nor router_logits")
        return ce, aux

    @torch.no_grad()
    def evaluate(m, starts, bs=64, autocast=True):
        was = m.training
        m.eval()
        tot, cnt = 0.0, 0
        for i in range(0, starts.numel(), bs):
            x, y = batch_at(starts[i:i + bs], valid_t)
            with torch.autocast(**{**amp, "enabled": amp["enabled"] and autocast}):
                logits = m(input_ids=x, use_cache=False).logits
            tot += float(F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"))
            cnt += y.numel()
        if was:
            m.train()
        return tot / max(1, cnt)

    # ---- experts implementation: pick what runs (and is fastest) on this machine
    R["experts_impl"] = {"requested": args.experts_impl}
    if args.experts_impl != "default" and hasattr(model, "set_experts_implementation"):
        try:
            R["experts_impl"]["initial"] = model.get_experts_implementation()
        except Exception as e:  # noqa: BLE001
            R["experts_impl"]["initial"] = f"? ({e})"
        candidates = ["grouped_mm", "eager"] if args.experts_impl == "auto" else [args.experts_impl]
        timings, probe_ce = {}, {}
        x, y = random_batch()
        for c in candidates:
            try:
                model.set_experts_implementation(c)
                for i in range(3):
                    if i == 1:
                        if dev.type == "cuda":
                            torch.cuda.synchronize()
                        t0 = time.time()
                    ce, aux = forward_losses(x, y)
                    (ce + args.aux_coef * aux).backward()
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                timings[c] = round((time.time() - t0) / 2, 4)
                probe_ce[c] = float(ce)
                if not math.isfinite(probe_ce[c]):
                    raise RuntimeError(f"non-finite loss {probe_ce[c]}")
            except Exception as e:  # noqa: BLE001
                timings[c] = f"failed: {type(e).__name__}: {str(e)[:300]}"
            finally:
                model.zero_grad(set_to_none=True)
        ok = {k: v for k, v in timings.items() if isinstance(v, float)}
        if "eager" in ok:  # a faster backend must also compute the same loss as the reference loop
            for k in list(ok):
                if k != "eager" and abs(probe_ce[k] - probe_ce["eager"]) > 0.05:
                    timings[k] = f"disagrees with eager: ce {probe_ce[k]} vs {probe_ce['eager']}"
                    del ok[k]
        chosen = min(ok, key=ok.get) if ok else None
        if chosen is None:
            raise SystemExit(f"no experts implementation works: {timings}")
        model.set_experts_implementation(chosen)
        R["experts_impl"].update(timings=timings, probe_ce=probe_ce, chosen=chosen)
    else:
        R["experts_impl"]["chosen"] = "default (no set_experts_implementation)"
    log(f"experts implementation: {R['experts_impl']}")

    # ---- optimiser and schedule
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": args.wd}, {"params": no_decay, "weight_decay": 0.0}]
    try:
        opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=dev.type == "cuda")
    except Exception:  # noqa: BLE001
        opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    now = time.time()
    budget = min(args.minutes * 60.0, deadline - now - args.reserve_seconds)
    if budget < 5:
        R["errors"].append(f"only {budget:.1f}s left for training")
        budget = max(budget, 5.0)
    R["train_budget_s"] = round(budget, 2)
    log(f"training for {budget:.1f}s (deadline in {deadline - now:.1f}s), batch {B}x{T}, "
        f"{train_ids.size / (B * T):.1f} steps per epoch")

    def lr_at(step, frac):
        warm = min(1.0, (step + 1) / max(1, args.warmup))
        cos = args.min_lr_frac + (1 - args.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac)))
        return args.lr * warm * cos

    hist_train, hist_valid = [], []
    eval_starts = valid_starts[: args.eval_windows]
    best = {"loss": float("inf"), "state": None, "step": -1}
    step, tokens = 0, 0
    t_train = time.time()
    last_eval = t_train
    last_log_t, last_log_tokens = t_train, 0
    last_print = t_train
    stop_reason = "time"
    try:
        while True:
            el = time.time() - t_train
            frac_time = el / budget
            frac_tokens = tokens / (args.max_epochs * train_ids.size) if args.max_epochs > 0 else 0.0
            if frac_time >= 1.0 or frac_tokens >= 1.0:
                stop_reason = "time" if frac_time >= 1.0 else "max_epochs"
                break
            if args.max_steps and step >= args.max_steps:
                stop_reason = "max_steps"
                break
            lr = lr_at(step, max(frac_time, frac_tokens))
            for g in opt.param_groups:
                g["lr"] = lr
            x, y = random_batch()
            ce, aux = forward_losses(x, y)
            loss = ce + args.aux_coef * aux
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            step += 1
            tokens += B * T
            if step % args.log_every == 0 or step == 1:
                ce_v, aux_v, gn_v = float(ce), float(aux), float(gnorm)
                t = time.time()
                tps = (tokens - last_log_tokens) / max(1e-9, t - last_log_t)
                last_log_t, last_log_tokens = t, tokens
                hist_train.append({"step": step, "tokens": tokens, "t": round(t - t_train, 2), "ce": ce_v,
                                   "aux": aux_v, "lr": lr, "grad_norm": gn_v})
                if step == 1 or t - last_print >= args.print_every_s:
                    last_print = t
                    log(f"step {step:6d} | ce {ce_v:.4f} | aux {aux_v:.4f} | lr {lr:.2e} | gnorm {gn_v:.3f} | "
                        f"{tps / 1e3:8.1f}k tok/s | {tokens / 1e6:.1f}M tokens | {t - t_train:.0f}/{budget:.0f}s")
                if not math.isfinite(ce_v):
                    stop_reason = "non-finite loss"
                    R["errors"].append(f"non-finite loss at step {step}")
                    break
            if time.time() - last_eval >= args.eval_every_s:
                vl = evaluate(model, eval_starts)
                last_eval = time.time()
                hist_valid.append({"step": step, "tokens": tokens, "t": round(last_eval - t_train, 2), "loss": vl})
                log(f"held-out loss {vl:.4f} (ppl {math.exp(vl):.2f}) at step {step}")
                if vl < best["loss"]:
                    best = {"loss": vl, "step": step,
                            "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
    except Exception as e:  # noqa: BLE001  (keep what was trained; save it below)
        stop_reason = f"exception: {type(e).__name__}: {e}"
        R["errors"].append(traceback.format_exc())
        log("TRAINING STOPPED BY AN EXCEPTION:", e)
    train_s = time.time() - t_train
    R["training"] = {"steps": step, "tokens_seen": tokens, "train_seconds": round(train_s, 2), "stop": stop_reason,
                     "epochs": round(tokens / max(1, train_ids.size), 2),
                     "tokens_per_second": round(tokens / max(1e-9, train_s), 1),
                     "peak_gpu_mem_gb": round(torch.cuda.max_memory_allocated() / 1e9, 2) if dev.type == "cuda" else None}
    log(f"trained {step} steps, {tokens / 1e6:.1f}M tokens in {train_s:.1f}s ({stop_reason})")

    # ---- final held-out loss; fall back to the best checkpoint when the end is clearly worse (overfitting)
    try:
        vl_end = evaluate(model, eval_starts)
        hist_valid.append({"step": step, "tokens": tokens, "t": round(time.time() - t_train, 2), "loss": vl_end})
        R["valid_loss_end"] = vl_end
        if best["state"] is not None and (not math.isfinite(vl_end) or vl_end > best["loss"] + 0.01):
            model.load_state_dict(best["state"])
            R["restored_best"] = {"step": best["step"], "loss": best["loss"], "end_loss": vl_end}
            log(f"restored the best checkpoint (step {best['step']}, held-out {best['loss']:.4f} < end {vl_end:.4f})")
    except Exception:  # noqa: BLE001
        R["errors"].append(traceback.format_exc())
    best["state"] = None
    R["history"] = {"train": hist_train, "valid": hist_valid}

    # ---- save the checkpoint first (classic Mixtral layout, bf16, shards), then pack at once
    model.eval()
    sd = {k: v.detach().to(torch.bfloat16).cpu() for k, v in model.state_dict().items()}
    from safetensors.torch import save_file

    classic, files = {}, []
    try:
        classic = to_classic(sd, args.hidden, args.intermediate, args.experts, args.tie)
        classic = {k: v.contiguous().clone() for k, v in classic.items()}
        want = expected_shapes(args, vocab)
        got = {k: tuple(v.shape) for k, v in classic.items()}
        if got != want:
            R["errors"].append({"classic_layout_mismatch": {
                "missing": sorted(set(want) - set(got)), "unexpected": sorted(set(got) - set(want)),
                "wrong_shape": {k: [got[k], want[k]] for k in set(got) & set(want) if got[k] != want[k]}}})
        names = [n for n in classic_name_map(args.layers, args.experts, args.tie) if n in classic]
        names += sorted(set(classic) - set(names))
        shards = plan_shards([(n, classic[n].numel() * classic[n].element_size()) for n in names],
                             int(args.max_shard_mb * 1e6))
        files = shard_file_names(len(shards))
        weight_map = {}
        for fname, group in zip(files, shards):
            save_file({n: classic[n] for n in group}, os.path.join(ckpt, fname), metadata={"format": "pt"})
            weight_map.update({n: fname for n in group})
        if len(files) > 1:
            total = sum(classic[n].numel() * classic[n].element_size() for n in names)
            with open(os.path.join(ckpt, "model.safetensors.index.json"), "w") as f:
                json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    except Exception:  # noqa: BLE001  (then transformers' own save below is the checkpoint)
        R["errors"].append("classic save: " + traceback.format_exc())
        log("CLASSIC SAVE FAILED:", R["errors"][-1][-400:])
        classic = {}
    # config.json / generation_config.json via transformers' own save_pretrained (bf16) into hf_native
    native = os.path.join(work, "hf_native")
    try:
        model.to(torch.bfloat16)
        try:  # the shipped config is for inference: no router logits / aux loss in every forward
            model.config.output_router_logits = False
        except Exception as e:  # noqa: BLE001
            R["errors"].append(f"config.output_router_logits: {e}")
        model.save_pretrained(native, max_shard_size=f"{int(args.max_shard_mb)}MB")
        for name in ("config.json", "generation_config.json"):
            if os.path.exists(os.path.join(native, name)):
                shutil.copyfile(os.path.join(native, name), os.path.join(ckpt, name))
        native_keys = set()
        for name in os.listdir(native):
            if name.endswith(".safetensors"):
                native_keys |= {k for k in safetensors_header(os.path.join(native, name)) if k != "__metadata__"}
        R["native_save"] = {"files": sorted(os.listdir(native)), "keys_sample": sorted(native_keys)[:12],
                            "same_keys_as_classic": native_keys == set(classic)}
        R["include_native"] = not classic or native_keys != set(classic)
    except Exception:  # noqa: BLE001
        R["errors"].append("save_pretrained: " + traceback.format_exc())
    if not os.path.exists(os.path.join(ckpt, "config.json")):
        try:
            config.to_json_file(os.path.join(ckpt, "config.json"))
        except Exception:  # noqa: BLE001
            with open(os.path.join(ckpt, "config.json"), "w") as f:
                json.dump(config.to_dict(), f, indent=2, default=str)
    if not os.path.exists(os.path.join(ckpt, "generation_config.json")):
        with open(os.path.join(ckpt, "generation_config.json"), "w") as f:
            json.dump({"bos_token_id": sid[BOS], "eos_token_id": sid[EOS]}, f, indent=2)
    R["checkpoint"] = {n: {"bytes": os.path.getsize(os.path.join(ckpt, n)), "sha256": sha256_file(os.path.join(ckpt, n))}
                       for n in sorted(os.listdir(ckpt))}
    R["checkpoint_weight_bytes"] = sum(v["bytes"] for n, v in R["checkpoint"].items() if n.endswith(".safetensors"))
    log(f"checkpoint: {R['checkpoint_weight_bytes'] / 1e6:.2f} MB of safetensors in {files}")
    do_pack("checkpoint")

    # ---- reload the shipped files in float32 and check they are the trained weights
    loaded = None
    src = ckpt if classic else os.path.join(work, "hf_native")
    R["reload_source"] = "classic" if classic else "hf_native"
    try:
        try:
            loaded = MixtralForCausalLM.from_pretrained(src, dtype=torch.float32, attn_implementation="eager")
        except (TypeError, ValueError) as e:
            R["errors"].append(f"from_pretrained(dtype=, attn_implementation=) failed: {e}")
            loaded = MixtralForCausalLM.from_pretrained(src)
        loaded = loaded.float().eval()
        if hasattr(loaded, "set_experts_implementation"):
            try:
                loaded.set_experts_implementation("eager")
            except Exception as e:  # noqa: BLE001
                R["errors"].append(f"set_experts_implementation('eager') on the reloaded model: {e}")
        lsd = loaded.state_dict()
        diffs, missing = {}, []
        for k, v in sd.items():
            if k not in lsd:
                missing.append(k)
            else:
                diffs[k] = float((lsd[k].float().cpu() - v.float()).abs().max())
        worst = max(diffs.values()) if diffs else float("nan")
        R["reload_check"] = {"max_abs_diff": worst, "missing": missing, "keys_compared": len(diffs),
                             "loaded_dtype": str(next(loaded.parameters()).dtype)}
        log(f"reloaded checkpoint: max |diff| to the trained bf16 weights = {worst} over {len(diffs)} tensors"
            + (f"; MISSING {missing}" if missing else ""))
        if worst != 0.0 or missing:
            R["errors"].append("the reloaded classic checkpoint does not equal the trained weights")
    except Exception:  # noqa: BLE001
        R["errors"].append("reload: " + traceback.format_exc())
        log("RELOAD FAILED:", R["errors"][-1][-400:])

    # ---- reference logits (CPU, float32, eager attention) for a fixed token sequence
    if loaded is not None:
        try:
            ids = [sid[BOS]] + tok.encode(REF_TEXT, add_special_tokens=False).ids
            ids = ids[:REF_TOKENS]
            with torch.no_grad():
                logits = loaded(input_ids=torch.tensor([ids]), use_cache=False).logits[0].float().contiguous()
            save_file({"input_ids": torch.tensor(ids, dtype=torch.int64), "logits": logits}, ref_path,
                      metadata={"text": REF_TEXT, "note": "float32 logits of transformers MixtralForCausalLM.eval() "
                                                          "loaded in float32 from the shipped bf16 checkpoint; CPU, eager attention"})
            np.save(os.path.join(work, "ref_logits.npy"), logits.numpy())
            with open(os.path.join(work, "ref_tokens.json"), "w") as f:
                json.dump({"text": REF_TEXT, "input_ids": ids, "pieces": [tok.id_to_token(i) for i in ids],
                           "argmax": logits.argmax(-1).tolist()}, f, indent=1)
            R["reference"] = {"text": REF_TEXT, "input_ids": ids, "shape": list(logits.shape),
                              "argmax": logits.argmax(-1).tolist(), "logits_0_first8": logits[0, :8].tolist(),
                              "logits_last_first8": logits[-1, :8].tolist(),
                              "decoded_argmax": tok.decode(logits.argmax(-1).tolist())}
            log(f"reference logits {list(logits.shape)} for {len(ids)} tokens")
        except Exception:  # noqa: BLE001
            R["errors"].append("reference logits: " + traceback.format_exc())

    # ---- held-out perplexity of the shipped weights (float32, full held-out split)
    if loaded is not None:
        try:
            loaded.to(dev)
            vl = evaluate(loaded, valid_starts, autocast=False)
            R["heldout"] = {"loss": vl, "perplexity": math.exp(vl), "tokens": int(valid_starts.numel() * T),
                            "windows": int(valid_starts.numel()), "seq": T, "weights": "shipped bf16, run in float32"}
            log(f"held-out loss {vl:.4f}, perplexity {math.exp(vl):.3f} over {valid_starts.numel() * T} tokens")
        except Exception:  # noqa: BLE001
            R["errors"].append("held-out perplexity: " + traceback.format_exc())

    # ---- sample generations from fixed prompts (no KV cache; short)
    if loaded is not None:
        samples = []
        try:
            jobs = [(p, t) for p in PROMPTS[: 2 if args.smoke else len(PROMPTS)] for t in (0.0, 0.8)]
            for prompt, temp in jobs:
                if time.time() > deadline - 25:
                    R["errors"].append(f"samples cut short by the deadline after {len(samples)} of {len(jobs)}")
                    break
                g = torch.Generator(device=dev)
                g.manual_seed(args.seed)
                ids = [sid[BOS]] + tok.encode(prompt, add_special_tokens=False).ids
                x = torch.tensor([ids], device=dev)
                new = []
                with torch.no_grad():
                    for _ in range(args.max_new_tokens):
                        lg = loaded(input_ids=x, use_cache=False).logits[0, -1].float()
                        if temp <= 0:
                            nxt = int(lg.argmax())
                        else:
                            nxt = int(torch.multinomial(torch.softmax(lg / temp, -1), 1, generator=g))
                        if nxt == sid[EOS]:
                            break
                        new.append(nxt)
                        x = torch.cat([x, torch.tensor([[nxt]], device=dev)], dim=1)
                samples.append({"prompt": prompt, "temperature": temp, "seed": args.seed, "new_ids": new,
                                "text": prompt + tok.decode(new)})
                log(f"sample T={temp}: {json.dumps(samples[-1]['text'])}")
        except Exception:  # noqa: BLE001
            R["errors"].append("samples: " + traceback.format_exc())
        R["samples"] = samples

    # ---- loss curve
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
        if hist_train:
            ax.plot([h["tokens"] / 1e6 for h in hist_train], [h["ce"] for h in hist_train], label="train (batch CE)", lw=1)
        if hist_valid:
            ax.plot([h["tokens"] / 1e6 for h in hist_valid], [h["loss"] for h in hist_valid], "o-", ms=3,
                    label="held-out CE")
        ax.set_xlabel("tokens seen (millions)")
        ax.set_ylabel("cross-entropy (nats/token)")
        ax.set_yscale("log")
        title = f"vib3 MoE {n_params / 1e6:.2f}M params, {args.layers}L d{args.hidden} {args.experts}x top-{args.topk}"
        if "heldout" in R:
            title += f" - held-out ppl {R['heldout']['perplexity']:.2f}"
        ax.set_title(title, fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(png_path)
        plt.close(fig)
    except Exception:  # noqa: BLE001
        R["errors"].append("plot: " + traceback.format_exc())

    # ---- tokenizer round trip through transformers (informational)
    try:
        from transformers import AutoTokenizer

        ht = AutoTokenizer.from_pretrained(ckpt)
        R["hf_tokenizer_check"] = {"class": type(ht).__name__, "ids": ht(REF_TEXT)["input_ids"][:REF_TOKENS],
                                   "matches_reference": ht(REF_TEXT)["input_ids"][:REF_TOKENS] == R.get("reference", {}).get("input_ids")}
    except Exception as e:  # noqa: BLE001
        R["hf_tokenizer_check"] = f"failed: {type(e).__name__}: {e}"

    R["total_seconds"] = round(time.time() - T0, 2)
    do_pack("final")
    shutil.rmtree(work, ignore_errors=True)
    if R["errors"]:
        log(f"finished with {len(R['errors'])} recorded problem(s); first: {str(R['errors'][0])[:600]}")
    summary = {"params": n_params, "steps": step, "tokens_seen": tokens, "train_s": round(train_s, 1),
               "heldout_ppl": R.get("heldout", {}).get("perplexity"), "reload_max_abs_diff": R.get("reload_check", {}).get("max_abs_diff"),
               "experts_impl": R["experts_impl"].get("chosen"), "problems": len(R["errors"])}
    log("SUMMARY " + json.dumps(summary))
    log(f"done in {time.time() - T0:.1f}s; outputs in {args.out}: {sorted(os.listdir(args.out))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
