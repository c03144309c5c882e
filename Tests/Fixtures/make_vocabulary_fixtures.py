"""Writes vocabulary_fixtures.json: small programs over Nabla's N-D ops (batched matmul, permute,
gather, where, maximum, ...) with their outputs and gradients computed by PyTorch in float64,
for Tests/NablaTests/VocabularyFixtureTests.swift.

    pip install 'torch==2.13.0+cpu'
    python3 Tests/Fixtures/make_vocabulary_fixtures.py

A program starts from its inputs as registers 0, 1, ...; each instruction applies one op to
registers and appends its result; the last register is the output. The file holds named cases,
written by hand for the ops the issue names, and 200 random programs: ops and operands drawn at
random, kept only where the shapes fit (as PyTorch and Nabla both define them). Input values are
multiples of 1/8, so that maximum, minimum and comparisons meet ties. Each case has an upstream
gradient u and the gradients of sum(output * u) with respect to every input.
"""
import json
import os
import random

import torch

torch.set_default_dtype(torch.float64)
rng = random.Random(20261207)


def values(shape):
    return torch.tensor([rng.randint(-16, 16) / 8 for _ in range(int(torch.Size(shape).numel()))]).reshape(shape)


def take(x, indices, axis):
    """NumPy's take along an axis, for indices of any shape: Nabla's gathering(_:alongAxis:)."""
    picked = x.index_select(axis, indices.flatten())
    return picked.reshape(x.shape[:axis] + indices.shape + x.shape[axis + 1:])


def causal_softmax(x):
    t = x.shape[-1]
    return torch.softmax(x.masked_fill(torch.ones(t, t).triu(1).bool(), float("-inf")), -1)


def apply(op, args, p):
    """One instruction, as PyTorch computes it."""
    a = args[0] if args else None
    if op == "add": return a + args[1]
    if op == "subtract": return a - args[1]
    if op == "multiply": return a * args[1]
    if op == "dividePositive": return a / (args[1] * args[1] + 1)
    if op == "maximum": return torch.maximum(a, args[1])
    if op == "minimum": return torch.minimum(a, args[1])
    if op == "where": return torch.where(a > 0, args[1], args[2])
    if op == "greaterMask": return (a > args[1]).double() * args[2]
    if op == "clamp": return a.clamp(p["min"], p["max"])
    if op == "matmul":
        x = a.transpose(-1, -2) if p["transposeA"] else a
        y = args[1].transpose(-1, -2) if p["transposeB"] else args[1]
        return torch.matmul(x, y)
    if op == "permute": return a.permute(*p["axes"])
    if op == "transpose": return a.transpose(p["axes"][0], p["axes"][1])
    if op == "reshape": return a.reshape(p["shape"])
    if op == "sum": return a.sum(dim=p["axes"], keepdim=p["keep"])
    if op == "mean": return a.mean(dim=p["axes"], keepdim=p["keep"])
    if op == "variance": return a.var(dim=p["axes"], keepdim=p["keep"], correction=p["correction"])
    if op == "softmax": return torch.softmax(a, p["axis"])
    if op == "logSoftmax": return torch.log_softmax(a, p["axis"])
    if op == "causalSoftmax": return causal_softmax(a)
    if op == "gather": return take(a, torch.tensor(p["indices"]["values"], dtype=torch.long).reshape(p["indices"]["shape"]), p["axis"])
    if op == "concatenate": return torch.cat(args, p["axis"])
    if op == "stack": return torch.stack(args, p["axis"])
    if op == "split": return torch.split(a, p["sizes"], p["axis"])[p["piece"]]
    if op == "chunk": return torch.chunk(a, p["count"], p["axis"])[p["piece"]]
    if op == "exp": return torch.exp(a)
    if op == "tanh": return torch.tanh(a)
    if op == "sigmoid": return torch.sigmoid(a)
    if op == "relu": return torch.relu(a)
    if op == "crossEntropy":
        labels = torch.tensor(p["labels"]["values"], dtype=torch.long).reshape(p["labels"]["shape"])
        return torch.nn.functional.cross_entropy(a.reshape(-1, a.shape[-1]), labels.flatten())
    raise ValueError(op)


def run(inputs, program):
    leaves = [x.clone().requires_grad_(True) for x in inputs]
    registers = list(leaves)
    for instruction in program:
        registers.append(apply(instruction["op"], [registers[i] for i in instruction["args"]], instruction["p"]))
    return leaves, registers[-1]


def case(name, inputs, program):
    leaves, output = run(inputs, program)
    upstream = values(output.shape)
    (output * upstream).sum().backward()
    return {
        "name": name,
        "inputs": [{"shape": list(x.shape), "values": x.flatten().tolist()} for x in inputs],
        "program": program,
        "output": {"shape": list(output.shape), "values": output.detach().flatten().tolist()},
        "upstream": upstream.flatten().tolist(),
        "gradients": [(leaf.grad if leaf.grad is not None else torch.zeros(leaf.shape)).flatten().tolist() for leaf in leaves],
    }


def step(op, args, **p):
    return {"op": op, "args": args, "p": p}


def indices(shape, below):
    count = int(torch.Size(shape).numel())
    return {"shape": list(shape), "values": [rng.randrange(below) for _ in range(count)]}


named = [
    case("batched matmul, the batch broadcast", [values((2, 1, 3, 4)), values((3, 4, 5))],
         [step("matmul", [0, 1], transposeA=False, transposeB=False)]),
    case("batched matmul, attention's q·kᵀ", [values((2, 2, 4, 3)), values((2, 2, 4, 3))],
         [step("matmul", [0, 1], transposeA=False, transposeB=True)]),
    case("batched matmul, Aᵀ of a 2-D operand", [values((4, 3)), values((2, 4, 5))],
         [step("matmul", [0, 1], transposeA=True, transposeB=False)]),
    case("embedding lookup of [B, T] ids", [values((7, 3))],
         [step("gather", [0], axis=0, indices={"shape": [2, 4], "values": [3, 0, 3, 6, 1, 1, 5, 3]})]),
    case("gather along the middle axis", [values((2, 5, 3))], [step("gather", [0], axis=1, indices=indices((2, 2), 5))]),
    case("where, broadcasting mask and operands", [values((3, 1)), values((3, 4)), values((4,))], [step("where", [0, 1, 2])]),
    case("maximum, with ties", [torch.tensor([[1.0, -2, 0.5], [3, 3, -1]]), torch.tensor([1.0, 0, 0.5])],
         [step("maximum", [0, 1])]),
    case("minimum, broadcasting with ties", [values((2, 3, 1)), values((4,))], [step("minimum", [0, 1])]),
    case("clamp, values on the bounds", [values((3, 5))], [step("clamp", [0], min=-0.5, max=0.75)]),
    case("causal softmax of attention scores", [values((2, 3, 4, 4))], [step("causalSoftmax", [0])]),
    case("cross-entropy over [B, T] class indices", [values((2, 3, 5))],
         [step("crossEntropy", [0], labels={"shape": [2, 3], "values": [4, 0, 2, 2, 1, 3]})]),
]


def random_shape():
    return [rng.randint(1, 4) for _ in range(rng.randint(1, 4))]


def candidates(shapes):
    """A random instruction over registers of these shapes, or None if the draw does not fit."""
    n = len(shapes)
    pick = lambda: rng.randrange(n) if rng.random() < 0.4 else max(0, n - 1 - rng.randrange(min(n, 3)))
    a = pick()
    s = shapes[a]
    rank = len(s)
    op = rng.choice(["add", "subtract", "multiply", "dividePositive", "maximum", "minimum", "where", "greaterMask",
                     "clamp", "matmul", "matmul", "permute", "transpose", "reshape", "sum", "mean", "variance",
                     "softmax", "logSoftmax", "causalSoftmax", "gather", "concatenate", "stack", "split", "chunk",
                     "exp", "tanh", "sigmoid", "relu"])
    if rank == 0 and op not in ("add", "subtract", "multiply", "dividePositive", "maximum", "minimum", "where",
                                "greaterMask", "clamp", "exp", "tanh", "sigmoid", "relu"):
        return None  # a scalar has no axes
    if op in ("add", "subtract", "multiply", "dividePositive", "maximum", "minimum"):
        return step(op, [a, pick()])
    if op in ("where", "greaterMask"):
        return step(op, [a, pick(), pick()])
    if op == "clamp":
        low = rng.randint(-8, 4) / 8
        return step(op, [a], min=low, max=low + rng.randint(0, 8) / 8)
    if op == "matmul":
        b = pick()
        if rank < 2 or len(shapes[b]) < 2: return None
        return step(op, [a, b], transposeA=rng.random() < 0.3, transposeB=rng.random() < 0.3)
    if op == "permute":
        axes = list(range(rank))
        rng.shuffle(axes)
        return step(op, [a], axes=axes)
    if op == "transpose":
        return step(op, [a], axes=[rng.randrange(rank), rng.randrange(rank) - rank])
    if op == "reshape":
        count = int(torch.Size(s).numel())
        for first in range(count, 0, -1):
            if count % first == 0 and rng.random() < 0.5:
                return step(op, [a], shape=[first, -1])
        return step(op, [a], shape=[-1])
    if op in ("sum", "mean", "variance"):
        axes = rng.sample(range(rank), rng.randint(1, rank))
        p = {"axes": axes, "keep": rng.random() < 0.5}
        if op == "variance":
            p["correction"] = rng.randint(0, 1)
            if int(torch.tensor([s[i] for i in axes]).prod()) <= p["correction"]: return None
        return step(op, [a], **p)
    if op in ("softmax", "logSoftmax"):
        return step(op, [a], axis=rng.randrange(rank) - (rank if rng.random() < 0.5 else 0))
    if op == "causalSoftmax":
        return step(op, [a]) if rank >= 2 and s[-1] == s[-2] else None
    if op == "gather":
        axis = rng.randrange(rank)
        return step(op, [a], axis=axis, indices=indices(random_shape()[:2], s[axis]))
    if op in ("concatenate", "stack"):
        args = [a] + [pick() for _ in range(rng.randint(1, 2))]
        return step(op, args, axis=rng.randrange(rank + (1 if op == "stack" else 0)))
    if op == "split":
        axis = rng.randrange(rank)
        cut = rng.randint(0, s[axis])
        return step(op, [a], sizes=[cut, s[axis] - cut], axis=axis, piece=rng.randint(0, 1)) if 0 < cut < s[axis] or rng.random() < 0.2 else None
    if op == "chunk":
        axis = rng.randrange(rank)
        divisors = [d for d in range(1, s[axis] + 1) if s[axis] % d == 0]
        count = rng.choice(divisors)
        return step(op, [a], count=count, axis=axis, piece=rng.randrange(count))
    return step(op, [a])


def random_program(number):
    while True:
        inputs = [values(random_shape()) for _ in range(rng.randint(1, 3))]
        shapes = [list(x.shape) for x in inputs]
        program, length, draws = [], rng.randint(3, 7), 0
        while len(program) < length and draws < 500:
            draws += 1
            instruction = candidates(shapes)
            if instruction is None: continue
            try:
                _, output = run(inputs, program + [instruction])
            except (RuntimeError, IndexError, ValueError):
                continue  # the shapes do not fit: draw again
            if output.numel() == 0 or output.numel() > 512 or not torch.isfinite(output).all(): continue
            program.append(instruction)
            shapes.append(list(output.shape))
        _, output = run(inputs, program)
        if len(program) == length and output.requires_grad:
            return case(f"random program {number}", inputs, program)


cases = named + [random_program(number) for number in range(200)]
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vocabulary_fixtures.json")
with open(path + ".tmp", "w") as file:
    json.dump({"torch": torch.__version__, "cases": cases}, file, separators=(",", ":"))
os.replace(path + ".tmp", path)
print(f"wrote {len(cases)} cases to {path}")
