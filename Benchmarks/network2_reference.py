"""The book's network2.py training step, rewritten in NumPy as an independent check of what the
chapter-3 networks reach (never a dependency of Nabla; needs only NumPy).

    python3 Benchmarks/network2_reference.py --data ../shared/mnist/mnist.pkl.gz \
        --hidden 100 --eta 0.5 --lmbda 5.0 --epochs 30 --seed 1

784-hidden-10 sigmoid network, the cross-entropy cost (output error a − y), network2's
`large_weight_initializer` (weights and biases N(0, 1)), mini-batches of 10 from a list shuffled
in place each epoch with Python's `random.shuffle`, and network2's L2 step
w ← (1 − ηλ/n)·w − (η/m)·Σ∇w, b ← b − (η/m)·Σ∇b, all in float64. The only difference from
network2.py is that a mini-batch is one matrix product rather than a loop over its examples,
which changes the order of the sums, not the algorithm. Seeds Python's and NumPy's generators
with --seed, as the book's figure scripts do (12345678). Prints each epoch's validation
accuracy, as `Examples/mnist --network chapter3-100-l2` does.
"""
import argparse
import gzip
import pickle
import random
import time

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--data", default="../shared/mnist/mnist.pkl.gz", help="the book's mnist.pkl.gz")
parser.add_argument("--hidden", type=int, default=100)
parser.add_argument("--eta", type=float, default=0.5)
parser.add_argument("--lmbda", type=float, default=5.0)
parser.add_argument("--epochs", type=int, default=30)
parser.add_argument("--seed", type=int, default=12345678)
arguments = parser.parse_args()
random.seed(arguments.seed)
np.random.seed(arguments.seed)

with gzip.open(arguments.data) as file:
    training, validation, _ = pickle.load(file, encoding="latin1")
images, labels = training[0].astype(np.float64), np.eye(10)[training[1]]
sizes = [784, arguments.hidden, 10]
biases = [np.random.randn(y, 1) for y in sizes[1:]]  # network2's large_weight_initializer, in its order
weights = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


eta, n, m = arguments.eta, len(images), 10
decay = 1 - eta * arguments.lmbda / n
order = list(range(n))
for epoch in range(arguments.epochs):
    start = time.time()
    random.shuffle(order)
    for k in range(0, n, m):
        batch = order[k:k + m]
        x, y = images[batch].T, labels[batch].T
        hidden = sigmoid(weights[0] @ x + biases[0])
        output = sigmoid(weights[1] @ hidden + biases[1])
        error2 = output - y
        error1 = (weights[1].T @ error2) * hidden * (1 - hidden)
        weights[1] = decay * weights[1] - (eta / m) * (error2 @ hidden.T)
        biases[1] = biases[1] - (eta / m) * error2.sum(axis=1, keepdims=True)
        weights[0] = decay * weights[0] - (eta / m) * (error1 @ x.T)
        biases[0] = biases[0] - (eta / m) * error1.sum(axis=1, keepdims=True)
    outputs = sigmoid(weights[1] @ sigmoid(weights[0] @ validation[0].T.astype(np.float64) + biases[0]) + biases[1])
    correct = int((outputs.argmax(axis=0) == validation[1]).sum())
    print(f"Epoch {epoch}: {correct} / {len(validation[1])}  [{time.time() - start:.1f} s]", flush=True)
