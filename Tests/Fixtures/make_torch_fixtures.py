"""Writes torch_fixtures.json: forward values and gradients of Nabla's convolution, pooling and
softmax cross-entropy ops, computed by PyTorch in double precision, for Tests/NablaTests.

    pip install 'torch==2.13.0+cpu'
    python3 Tests/Fixtures/make_torch_fixtures.py

Each case has its inputs, PyTorch's output, an upstream gradient u and the gradients of
sum(output * u) with respect to every differentiable input. Random values are multiples of 1/64,
short to print and exact in binary; every number is written with enough digits to read back exactly.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20261202)
torch.set_default_dtype(torch.float64)


def tensor(*shape):
    return (torch.randn(tuple(shape)) * 64).round() / 64


def case(name, inputs, function, **parameters):
    leaves = {key: value.clone().requires_grad_(value.is_floating_point()) for key, value in inputs.items()}
    output = function(**leaves)
    upstream = tensor(*output.shape)
    (output * upstream).sum().backward()
    return {
        "name": name,
        "parameters": parameters,
        "inputs": {key: {"shape": list(value.shape), "values": value.flatten().tolist()} for key, value in inputs.items()},
        "output": {"shape": list(output.shape), "values": output.detach().flatten().tolist()},
        "upstream": upstream.flatten().tolist(),
        "gradients": {key: leaf.grad.flatten().tolist() for key, leaf in leaves.items() if leaf.grad is not None},
    }


cases = []
for name, x, w, stride, padding in [
    ("conv2d 3→4 channels, 3×2 kernel", (2, 3, 7, 6), (4, 3, 3, 2), 1, 0),
    ("conv2d stride 2, padding 1", (2, 2, 7, 7), (3, 2, 3, 3), 2, 1),
    ("conv2d one channel, 5×5 kernel, padding 2", (2, 1, 12, 12), (3, 1, 5, 5), 1, 2),
    ("conv2d stride 3, padding 2, many channels", (1, 6, 5, 5), (2, 6, 4, 4), 3, 2),
]:
    cases.append(case(name, {"input": tensor(*x), "weight": tensor(*w), "bias": tensor(w[0])},
                      lambda input, weight, bias, s=stride, p=padding: F.conv2d(input, weight, bias, stride=s, padding=p),
                      stride=stride, padding=padding))
for name, x, kernel, stride in [
    ("maxPool2d 2×2", (2, 3, 6, 6), 2, 2),
    ("maxPool2d 3×3 stride 2, overlapping", (1, 2, 7, 7), 3, 2),
    ("maxPool2d 2×2 on an odd size", (1, 1, 5, 5), 2, 2),
]:
    cases.append(case(name, {"input": tensor(*x)},
                      lambda input, k=kernel, s=stride: F.max_pool2d(input, k, s),
                      kernelSize=kernel, stride=stride))
cases.append(case("softmax cross-entropy, class indices", {"input": tensor(6, 5) * 4, "target": torch.tensor([0, 4, 2, 2, 1, 3])},
                  lambda input, target: F.cross_entropy(input, target)))
cases.append(case("softmax cross-entropy, probabilities", {"input": tensor(6, 5) * 4, "target": torch.softmax(tensor(6, 5), 1)},
                  lambda input, target: F.cross_entropy(input, target)))

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_fixtures.json")
with open(path + ".tmp", "w") as file:
    json.dump({"torch": torch.__version__, "cases": cases}, file, separators=(",", ":"))
os.replace(path + ".tmp", path)
print(f"wrote {len(cases)} cases to {path}")
