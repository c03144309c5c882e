"""nanoGPT's Shakespeare model in PyTorch, beside Examples/charlm: the same model, data and
settings, to compare losses, checkpoints and speed.

    pip install 'torch==2.13.0+cpu'
    python3 Benchmarks/pytorch_nanogpt.py train --iterations 2000 --out torch.safetensors
    python3 Benchmarks/pytorch_nanogpt.py evaluate torch.safetensors
    swift run -c release Examples/charlm evaluate --load torch.safetensors          # the same loss
    swift run -c release Examples/charlm evaluate --load charlm-shakespeare-cpu.safetensors --export-nanogpt nabla.safetensors
    python3 Benchmarks/pytorch_nanogpt.py evaluate nabla.safetensors                # and back
    OPENBLAS_NUM_THREADS=1 python3 Benchmarks/pytorch_nanogpt.py benchmark [--threads 1] [--compile]
    python3 Benchmarks/pytorch_nanogpt.py train --model lstm     # charlm's shakespeare-lstm, for its loss

The model is written here from nanoGPT's description (model.py: token and position embeddings,
pre-norm blocks of causal self-attention and a GELU MLP, a final layer norm, the output projection
tied to the token embedding; bias=False, dropout 0) with nanoGPT's module names, so its state dict
is nanoGPT's. Checkpoints are safetensors written with the standard library (the `safetensors`
package is not needed), with nanoGPT's model_args and the vocabulary in the metadata.
"""
import argparse
import json
import math
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, width, heads, bias, dropout):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.c_attn = nn.Linear(width, 3 * width, bias=bias)
        self.c_proj = nn.Linear(width, width, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0)
        return self.resid_dropout(self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c)))


class MLP(nn.Module):
    def __init__(self, width, bias, dropout):
        super().__init__()
        self.c_fc = nn.Linear(width, 4 * width, bias=bias)
        self.c_proj = nn.Linear(4 * width, width, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, width, heads, bias, dropout):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, bias=bias)
        self.attn = CausalSelfAttention(width, heads, bias, dropout)
        self.ln_2 = nn.LayerNorm(width, bias=bias)
        self.mlp = MLP(width, bias, dropout)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, vocab_size, block_size, n_layer, n_head, n_embd, bias=False, dropout=0.0):
        super().__init__()
        self.args = dict(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd, bias=bias)
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab_size, n_embd), wpe=nn.Embedding(block_size, n_embd), drop=nn.Dropout(dropout),
            h=nn.ModuleList([Block(n_embd, n_head, bias, dropout) for _ in range(n_layer)]), ln_f=nn.LayerNorm(n_embd, bias=bias)))
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)

    def forward(self, ids, targets=None):
        t = ids.shape[1]
        x = self.transformer.drop(self.transformer.wte(ids) + self.transformer.wpe(torch.arange(t)))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))
        return logits, loss


class CharacterLSTM(nn.Module):
    """charlm's shakespeare-lstm: an embedding, a stacked LSTM, logits at every position."""

    def __init__(self, vocab_size, embedding=64, hidden=256, layers=2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding)
        self.lstm = nn.LSTM(embedding, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, ids, targets=None):
        logits = self.head(self.lstm(self.embedding(ids))[0])
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))
        return logits, loss


def write_safetensors(path, tensors, metadata):
    header, data, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        raw = tensors[name].detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(raw)]}
        data.append(raw)
        offset += len(raw)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(data))
    os.replace(path + ".tmp", path)


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length])
    metadata = header.pop("__metadata__", {})
    body = blob[8 + length:]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = {"F32": torch.float32, "F64": torch.float64}[entry["dtype"]]
        tensors[name] = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype).reshape(entry["shape"]).float()
    return tensors, metadata


def load_text(path):
    text = open(path, encoding="utf-8").read()
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([index[c] for c in text], dtype=torch.long)
    cut = int(0.9 * len(data))
    return "".join(chars), data[:cut], data[cut:]


def text_path(given):
    if given:
        return os.path.join(given, "tinyshakespeare.txt") if os.path.isdir(given) else given
    for place in [os.environ.get("NABLA_TEXT"), os.path.join(os.path.dirname(__file__), "..", "..", "shared", "text")]:
        if place and os.path.exists(os.path.join(place, "tinyshakespeare.txt")):
            return os.path.join(place, "tinyshakespeare.txt")
    raise SystemExit("tinyshakespeare.txt not found: pass --data or set NABLA_TEXT")


def load_model(path):
    tensors, metadata = read_safetensors(path)
    model = GPT(**{k: int(metadata[k]) for k in ["vocab_size", "block_size", "n_layer", "n_head", "n_embd"]},
                bias=metadata.get("bias") == "True")
    model.load_state_dict(tensors)
    return model, metadata


def consecutive_block_loss(model, tokens, block):
    """Mean cross-entropy over every whole block tokens[i*T:(i+1)*T] -> the tokens one later."""
    blocks = (len(tokens) - 1) // block
    total = 0.0
    model.eval()
    with torch.no_grad():
        for first in range(0, blocks, 64):
            rows = min(64, blocks - first)
            x = tokens[first * block:(first + rows) * block].view(rows, block)
            y = tokens[first * block + 1:(first + rows) * block + 1].view(rows, block)
            total += model(x, y)[1].item() * rows * block
    return total / (blocks * block), blocks * block


def optimizer_for(model, learning_rate=1e-3):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                             lr=learning_rate, betas=(0.9, 0.99))


def get_lr(it, peak=1e-3, floor=1e-4, warmup=100, decay=2000):
    """nanoGPT's get_lr: linear warmup, then cosine decay to the floor."""
    if it < warmup:
        return peak * (it + 1) / (warmup + 1)
    if it > decay:
        return floor
    return floor + 0.5 * (1 + math.cos(math.pi * (it - warmup) / (decay - warmup))) * (peak - floor)


def batch(data, block, size):
    ix = torch.randint(len(data) - block, (size,))
    return torch.stack([data[i:i + block] for i in ix]), torch.stack([data[i + 1:i + 1 + block] for i in ix])


def command_train(args):
    torch.manual_seed(args.seed)
    vocabulary, train, val = load_text(text_path(args.data))
    # charlm's shakespeare-cpu (nanoGPT's CPU run), shakespeare-small or shakespeare-lstm.
    lstm, small = args.model == "lstm", args.model == "gpt-small"
    if lstm:
        model, peak, batch_size, block, decay = CharacterLSTM(len(vocabulary)), 2e-3, 32, 64, 2000
    elif small:
        model, peak, batch_size, block, decay = GPT(len(vocabulary), 256, 6, 6, 384, dropout=0.2), 1e-3, 64, 256, 5000
    else:
        model, peak, batch_size, block, decay = GPT(len(vocabulary), 64, 4, 4, 128), 1e-3, 12, 64, 2000
    optimizer = optimizer_for(model)
    start = time.time()
    for it in range(args.iterations + 1):
        if it % 250 == 0 or it == args.iterations:
            print(f"iteration {it}: val loss {consecutive_block_loss(model, val, block)[0]:.4f} ({time.time() - start:.1f} s)", flush=True)
        if it == args.iterations:
            break
        for group in optimizer.param_groups:
            group["lr"] = get_lr(it, peak=peak, floor=peak / 10, decay=decay)
        model.train()
        x, y = batch(train, block, batch_size)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    if not lstm:
        metadata = {k: str(v) for k, v in model.args.items()} | {"vocabulary": vocabulary, "dropout": "0.0"}
        write_safetensors(args.out, dict(model.state_dict()), metadata)
        print(f"saved to {args.out}")


def command_evaluate(args):
    model, metadata = load_model(args.checkpoint)
    vocabulary, _, val = load_text(text_path(args.data))
    if metadata.get("vocabulary") != vocabulary:
        raise SystemExit(f"{args.checkpoint}: its vocabulary differs from tiny Shakespeare's")
    loss, count = consecutive_block_loss(model, val, model.args["block_size"])
    print(f"validation loss {loss:.6f} over {count} tokens")


def command_benchmark(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = GPT(65, 64, 4, 4, 128)
    optimizer = optimizer_for(model)
    step_model = torch.compile(model) if args.compile else model

    def iteration(it):
        for group in optimizer.param_groups:
            group["lr"] = get_lr(it)
        x, y = torch.randint(0, 65, (12, 64)), torch.randint(0, 65, (12, 64))
        _, loss = step_model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    model.train()
    for it in range(10):
        iteration(it)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for it in range(20):
            iteration(it)
        best = min(best, (time.perf_counter() - start) / 20)
    figures = {"torch": torch.__version__, "threads": args.threads, "compiled": args.compile,
               "iteration_ms": best * 1e3, "tokens_per_s": 768 / best}
    figures.update(reference_products(args.threads))
    print(json.dumps(figures))


def reference_products(threads):
    """GFLOP/s of PyTorch's sgemm (MKL) and, if NumPy is installed, NumPy's (its bundled OpenBLAS,
    with OPENBLAS_NUM_THREADS set before the run to match), at 1024³ and at the transformer's
    shapes: a floor for the iteration must come from the fastest product on the machine."""
    def rate(product, flops):
        for _ in range(3):
            product()
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(20):
                product()
            best = min(best, (time.perf_counter() - start) / 20)
        return flops / best / 1e9

    shapes = {"1024": (1024, 1024, 1024), "qkv": (768, 128, 384), "project": (768, 512, 128)}
    figures = {}
    for key, (m, k, n) in shapes.items():
        a, b = torch.randn(m, k), torch.randn(k, n)
        figures[f"torch_sgemm_{key}_gflops"] = rate(lambda: a @ b, 2 * m * k * n)
        try:
            import numpy
            an, bn = a.numpy(), b.numpy()
            figures[f"numpy_sgemm_{key}_gflops"] = rate(lambda: an @ bn, 2 * m * k * n)
        except ImportError:
            pass
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train nanoGPT's CPU configuration and save its state dict")
    train.add_argument("--model", choices=["gpt", "gpt-small", "lstm"], default="gpt")
    train.add_argument("--iterations", type=int, default=2000)
    train.add_argument("--seed", type=int, default=1337)
    train.add_argument("--out", default="torch-shakespeare-cpu.safetensors")
    train.add_argument("--data")
    evaluate = sub.add_parser("evaluate", help="the validation loss over every consecutive block")
    evaluate.add_argument("checkpoint")
    evaluate.add_argument("--data")
    bench = sub.add_parser("benchmark", help="milliseconds per training iteration")
    bench.add_argument("--threads", type=int, default=1)
    bench.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    {"train": command_train, "evaluate": command_evaluate, "benchmark": command_benchmark}[args.command](args)


if __name__ == "__main__":
    main()
