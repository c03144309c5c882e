"""Writes layer_fixtures.json: the sequence layers (layer norm, GELU, causal attention, a
transformer block, a weight-tied GPT, LSTM, GRU, batch norm, embedding) computed by PyTorch in
float64, for Tests/NablaTests/LayerFixtureTests.swift.

    pip install 'torch==2.13.0+cpu'
    python3 Tests/Fixtures/make_layer_fixtures.py

Each case holds the layer's parameters under Nabla's names, an input, an upstream gradient u for
each output, the outputs, and the gradients of sum(output * u) (summed over outputs) with
respect to the input (unless it holds ids) and every parameter. The transformer code below is
written from nanoGPT's description (pre-norm blocks, causal scaled-dot-product attention, GELU
MLP, tied output projection); recurrent layers and batch norm are PyTorch's own modules.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
torch.manual_seed(20261207)


def tensor_json(t):
    return {"shape": list(t.shape), "values": t.detach().flatten().tolist()}


def case(name, layer, parameters, inputs, outputs_of, ids=False, extra=None):
    """Runs outputs_of(inputs, parameters) and differentiates sum(output * u) over its outputs."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in parameters.items()}
    x = inputs.clone().requires_grad_(not ids)
    outputs = outputs_of(x, leaves)
    upstream = [torch.randn(o.shape) for o in outputs]
    total = sum((o * u).sum() for o, u in zip(outputs, upstream))
    total.backward()
    result = {
        "name": name, "layer": layer,
        "parameters": {k: tensor_json(v) for k, v in parameters.items()},
        "input": tensor_json(inputs),
        "upstream": [tensor_json(u) for u in upstream],
        "outputs": [tensor_json(o) for o in outputs],
        "gradients": {k: tensor_json(v.grad) for k, v in leaves.items()},
    }
    if not ids:
        result["gradients"]["input"] = tensor_json(x.grad)
    result.update(extra or {})
    return result


def linear(x, p, name):
    return F.linear(x, p[name + ".weight"], p.get(name + ".bias"))


def attention(x, p, prefix, heads, causal=True):
    b, t, c = x.shape
    q, k, v = linear(x, p, prefix + "queryKeyValue").split(c, dim=2)
    q, k, v = (z.view(b, t, heads, c // heads).transpose(1, 2) for z in (q, k, v))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    return linear(y.transpose(1, 2).reshape(b, t, c), p, prefix + "output")


def layer_norm(x, p, name):
    return F.layer_norm(x, (x.shape[-1],), p[name + ".weight"], p.get(name + ".bias"))


def block(x, p, prefix, heads):
    x = x + attention(layer_norm(x, p, prefix + "norm1"), p, prefix + "attention.", heads)
    return x + linear(F.gelu(linear(layer_norm(x, p, prefix + "norm2"), p, prefix + "expand")), p, prefix + "project")


def block_parameters(prefix, width, bias):
    p = {prefix + "norm1.weight": 1 + 0.3 * torch.randn(width),
         prefix + "attention.queryKeyValue.weight": 0.5 * torch.randn(3 * width, width),
         prefix + "attention.output.weight": 0.5 * torch.randn(width, width),
         prefix + "norm2.weight": 1 + 0.3 * torch.randn(width),
         prefix + "expand.weight": 0.5 * torch.randn(4 * width, width),
         prefix + "project.weight": 0.5 * torch.randn(width, 4 * width)}
    if bias:
        for name, size in [("norm1", width), ("attention.queryKeyValue", 3 * width), ("attention.output", width),
                           ("norm2", width), ("expand", 4 * width), ("project", width)]:
            p[prefix + name + ".bias"] = 0.2 * torch.randn(size)
    return p


cases = []

p = {"weight": 1 + 0.3 * torch.randn(5), "bias": 0.2 * torch.randn(5)}
cases.append(case("LayerNorm", "layerNorm", p, torch.randn(2, 3, 5), lambda x, p: [F.layer_norm(x, (5,), p["weight"], p["bias"])]))
p = {"weight": 1 + 0.3 * torch.randn(5)}
cases.append(case("LayerNorm without bias", "layerNormNoBias", p, torch.randn(4, 5),
                  lambda x, p: [F.layer_norm(x, (5,), p["weight"], None)]))
cases.append(case("GELU", "gelu", {}, 2 * torch.randn(3, 7), lambda x, p: [F.gelu(x)]))
cases.append(case("GELU, tanh", "geluTanh", {}, 2 * torch.randn(3, 7), lambda x, p: [F.gelu(x, approximate="tanh")]))

p = {"queryKeyValue.weight": 0.5 * torch.randn(24, 8), "queryKeyValue.bias": 0.2 * torch.randn(24),
     "output.weight": 0.5 * torch.randn(8, 8), "output.bias": 0.2 * torch.randn(8)}
cases.append(case("causal attention, 2 heads", "attention", p, torch.randn(2, 5, 8),
                  lambda x, p: [attention(x, p, "", heads=2)]))
cases.append(case("attention, not causal", "attentionNotCausal", p, torch.randn(2, 5, 8),
                  lambda x, p: [attention(x, p, "", heads=4, causal=False)]))

p = block_parameters("", 8, bias=False)
cases.append(case("transformer block, no bias", "block", p, torch.randn(2, 5, 8), lambda x, p: [block(x, p, "", heads=2)]))
p = block_parameters("", 8, bias=True)
cases.append(case("transformer block, bias", "blockBias", p, torch.randn(2, 4, 8), lambda x, p: [block(x, p, "", heads=2)]))

vocabulary, context, width = 11, 6, 8
p = {"tokenEmbedding.weight": torch.randn(vocabulary, width), "positionEmbedding.weight": torch.randn(context, width)}
for i in range(2):
    p.update(block_parameters(f"blocks.{i}.", width, bias=False))
p["finalNorm.weight"] = 1 + 0.3 * torch.randn(width)
ids = torch.randint(0, vocabulary, (3, 5))
targets = torch.randint(0, vocabulary, (3, 5))


def gpt(x, p):
    h = p["tokenEmbedding.weight"][x.long()] + p["positionEmbedding.weight"][: x.shape[1]]
    for i in range(2):
        h = block(h, p, f"blocks.{i}.", heads=2)
    logits = F.linear(layer_norm(h, p, "finalNorm"), p["tokenEmbedding.weight"])
    loss = F.cross_entropy(logits.view(-1, vocabulary), targets.view(-1))
    return [logits, loss]


cases.append(case("GPT, weight-tied, with its cross-entropy", "gpt", p, ids.double(), gpt, ids=True,
                  extra={"targets": tensor_json(targets.double())}))

lstm = torch.nn.LSTM(4, 3, num_layers=2, batch_first=True)
p = {k: v.detach().clone() for k, v in lstm.state_dict().items()}


def run_lstm(x, p):
    out, (h, c) = torch.func.functional_call(lstm, p, (x,))
    return [out, h, c]


cases.append(case("LSTM, 2 layers", "lstm", p, torch.randn(2, 5, 4), run_lstm))
gru = torch.nn.GRU(4, 3, num_layers=2, batch_first=True)
p = {k: v.detach().clone() for k, v in gru.state_dict().items()}


def run_gru(x, p):
    out, h = torch.func.functional_call(gru, p, (x,))
    return [out, h]


cases.append(case("GRU, 2 layers", "gru", p, torch.randn(2, 5, 4), run_gru))

for shape, name in [((6, 3), "BatchNorm1D over [N, C], training"), ((2, 4, 3), "BatchNorm1D over [N, T, C], training")]:
    norm = torch.nn.BatchNorm1d(3)
    p = {"weight": 1 + 0.3 * torch.randn(3), "bias": 0.2 * torch.randn(3)}
    running_mean, running_var = 0.3 * torch.randn(3), 1 + torch.rand(3)
    x = torch.randn(*shape)
    stats = {}

    def run_norm(x, p, running_mean=running_mean, running_var=running_var, stats=stats):
        m, v = running_mean.clone(), running_var.clone()
        features_last = x if x.dim() == 2 else x.transpose(1, 2)
        y = F.batch_norm(features_last, m, v, p["weight"], p["bias"], training=True, momentum=0.1, eps=1e-5)
        stats.update(runningMean=tensor_json(m), runningVariance=tensor_json(v))
        return [y if x.dim() == 2 else y.transpose(1, 2)]

    c = case(name, "batchNorm", p, x, run_norm,
             extra={"states": {"runningMean": tensor_json(running_mean), "runningVariance": tensor_json(running_var)}})
    c["statesAfter"] = stats
    cases.append(c)

p = {"weight": torch.randn(6, 4)}
cases.append(case("Embedding", "embedding", p, torch.tensor([[5.0, 0, 2], [2, 2, 1]]), lambda x, p: [F.embedding(x.long(), p["weight"])], ids=True))

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layer_fixtures.json")
with open(path, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
print(f"wrote {len(cases)} cases to {path}")
