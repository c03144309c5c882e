"""The book's chapter-6 network in PyTorch, trained as `Examples/mnist --network chapter6-relu`
trains it, for comparing speed side by side (never a dependency of Nabla).

    pip install 'torch==2.13.0+cpu'
    python3 Benchmarks/pytorch_chapter6.py --data ../shared/mnist/mnist.pkl.gz --threads 1 --epochs 1

Conv 20 5×5 → max-pool 2 → ReLU → conv 40 5×5 → max-pool 2 → ReLU → fully connected 100, ReLU →
softmax 10 with the mean negative log-likelihood; SGD, η 0.03, mini-batches of 10 in a fixed
order, L2 as network3.py adds it (weight decay λ·m/n on weights only, λ 0.1); network3's
initialization. Prints seconds of training per epoch and the validation and test accuracy,
then the seconds to evaluate the 10,000 test images, and the speed of a large matrix product
[1024×1024]·[1024×1024] on one thread (the machine's floor, as `nabla-bench` measures its own).
"""
import argparse
import gzip
import pickle
import time

import torch
import torch.nn.functional as F
from torch import nn

parser = argparse.ArgumentParser()
parser.add_argument("--data", default="../shared/mnist/mnist.pkl.gz", help="the book's mnist.pkl.gz")
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--batch-size", type=int, default=10)
arguments = parser.parse_args()
torch.set_num_threads(arguments.threads)
torch.manual_seed(1)

with gzip.open(arguments.data, "rb") as file:
    training, validation, test = pickle.load(file, encoding="latin1")


def tensors(part):
    images, labels = part
    return torch.tensor(images).reshape(-1, 1, 28, 28), torch.tensor(labels, dtype=torch.long)


(x, y), validation, test = tensors(training), tensors(validation), tensors(test)

model = nn.Sequential(
    nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.ReLU(),
    nn.Conv2d(20, 40, 5), nn.MaxPool2d(2), nn.ReLU(),
    nn.Flatten(),
    nn.Linear(640, 100), nn.ReLU(),
    nn.Linear(100, 10),
)
with torch.no_grad():
    for layer, n_out in [(model[0], 20 * 25 / 4), (model[3], 40 * 25 / 4), (model[7], 100)]:
        layer.weight.normal_(0, (1 / n_out) ** 0.5)
        layer.bias.normal_(0, 1)
    model[9].weight.zero_()
    model[9].bias.zero_()

decay = 0.1 * arguments.batch_size / len(x)
weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
optimizer = torch.optim.SGD([{"params": weights, "weight_decay": decay}, {"params": biases, "weight_decay": 0}], lr=0.03)


def accuracy(images, labels):
    model.eval()
    with torch.no_grad():
        correct = sum((model(images[i:i + 500]).argmax(1) == labels[i:i + 500]).sum().item() for i in range(0, len(images), 500))
    model.train()
    return correct / len(images)


for epoch in range(arguments.epochs):
    start = time.perf_counter()
    for i in range(0, len(x), arguments.batch_size):
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x[i:i + arguments.batch_size]), y[i:i + arguments.batch_size]).backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    print(f"Epoch {epoch}: {seconds:.2f} s training ({arguments.threads} thread(s)); "
          f"validation {100 * accuracy(*validation):.2f}%, test {100 * accuracy(*test):.2f}%")

start = time.perf_counter()
accuracy(*test)
print(f"Evaluating the 10,000 test images: {1000 * (time.perf_counter() - start):.0f} ms ({arguments.threads} thread(s))")

torch.set_num_threads(1)
a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
for _ in range(3):
    a @ b
timings = []
for _ in range(5):
    start = time.perf_counter()
    for _ in range(5):
        a @ b
    timings.append((time.perf_counter() - start) / 5)
print(f"sgemm [1024×1024]·[1024×1024], one thread: {2 * 1024 ** 3 / min(timings) / 1e9:.1f} GFLOP/s")
