"""Writes optimizer_fixtures.json: AdamW and RMSprop trajectories, gradient clipping and nanoGPT's
learning-rate schedule, computed by PyTorch in float64, for Tests/NablaTests/OptimizerFixtureTests.swift.

    pip install 'torch==2.13.0+cpu'
    python3 Tests/Fixtures/make_optimizer_fixtures.py

Each optimizer case starts from the same two parameters (a [3, 4] weight and a [4] bias), feeds
the same seeded gradients for six steps — the learning rate changed at every step, as a schedule
does — and records both parameters after each step.
"""
import json
import math
import os

import torch

torch.manual_seed(20261207)
torch.set_default_dtype(torch.float64)

start = {"weight": torch.randn(3, 4), "bias": torch.randn(4)}
gradients = [{name: torch.randn(value.shape) * (1 + step) for name, value in start.items()} for step in range(6)]
rates = [0.01 * (1 + step) / 6 for step in range(6)]


def trajectory(make, groups=None):
    parameters = {name: value.clone().requires_grad_(True) for name, value in start.items()}
    optimizer = make(groups(parameters) if groups else list(parameters.values()))
    steps = []
    for step in range(6):
        for group in optimizer.param_groups:
            group["lr"] = rates[step]
        for name, p in parameters.items():
            p.grad = gradients[step][name].clone()
        optimizer.step()
        steps.append({name: p.detach().flatten().tolist() for name, p in parameters.items()})
    return steps


def matrices_only(parameters):
    return [{"params": [parameters["weight"]]}, {"params": [parameters["bias"]], "weight_decay": 0.0}]


cases = {
    "AdamW": trajectory(lambda p: torch.optim.AdamW(p, betas=(0.9, 0.99), weight_decay=0.1)),
    "AdamW, decay on matrices only": trajectory(lambda p: torch.optim.AdamW(p, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.1), matrices_only),
    "RMSprop": trajectory(lambda p: torch.optim.RMSprop(p)),
    "RMSprop, centered, momentum and weight decay": trajectory(
        lambda p: torch.optim.RMSprop(p, alpha=0.9, eps=1e-6, weight_decay=0.05, momentum=0.8, centered=True)),
}

clipping = {}
for name, clip in [("norm 1", lambda ps: torch.nn.utils.clip_grad_norm_(ps, 1.0)),
                   ("norm 100", lambda ps: torch.nn.utils.clip_grad_norm_(ps, 100.0)),
                   ("value 0.5", lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.5))]:
    parameters = [value.clone().requires_grad_(True) for value in start.values()]
    for p, g in zip(parameters, gradients[2].values()):
        p.grad = g.clone()
    norm = clip(parameters)
    clipping[name] = {"norm": None if norm is None else norm.item(), "gradients": [p.grad.flatten().tolist() for p in parameters]}


def get_lr(it, learning_rate=1e-3, min_lr=1e-4, warmup_iters=100, lr_decay_iters=2000):
    # nanoGPT's train.py, as written there.
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


iterations = [0, 1, 50, 99, 100, 101, 500, 1000, 1050, 1999, 2000, 2001, 2500]
fixture = {
    "torch": torch.__version__,
    "start": {name: {"shape": list(value.shape), "values": value.flatten().tolist()} for name, value in start.items()},
    "gradients": [{name: g.flatten().tolist() for name, g in step.items()} for step in gradients],
    "rates": rates,
    "optimizers": cases,
    "clipping": clipping,
    "schedule": {"iterations": iterations, "rates": [get_lr(it) for it in iterations]},
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optimizer_fixtures.json")
with open(path + ".tmp", "w") as file:
    json.dump(fixture, file, separators=(",", ":"))
os.replace(path + ".tmp", path)
print(f"wrote {path}")
