"""Acceptance: the notes' LegendrePolynomial3 fit runs on nnlab.minitorch unchanged.

The program below is the notes' last program, copied verbatim. The test swaps
`import torch` for `import nnlab.minitorch as torch` (nothing else), runs it, and
compares what it prints with what PyTorch printed in the notes (float32, within
1e-4 relative): every loss line and the fitted coefficients.
"""
import re

import pytest

SEED_PROGRAM = '''\
# -*- coding: utf-8 -*-
import torch
import math


class LegendrePolynomial3(torch.autograd.Function):
    """
    We can implement our own custom autograd Functions by subclassing
    torch.autograd.Function and implementing the forward and backward passes
    which operate on Tensors.
    """

    @staticmethod
    def forward(ctx, input):
        """
        In the forward pass we receive a Tensor containing the input and return
        a Tensor containing the output. ctx is a context object that can be used
        to stash information for backward computation. You can cache arbitrary
        objects for use in the backward pass using the ctx.save_for_backward method.
        """
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        """
        In the backward pass we receive a Tensor containing the gradient of the loss
        with respect to the output, and we need to compute the gradient of the loss
        with respect to the input.
        """
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


dtype = torch.float
device = torch.device("cpu")
# device = torch.device("cuda:0")  # Uncomment this to run on GPU

# Create Tensors to hold input and outputs.
# By default, requires_grad=False, which indicates that we do not need to
# compute gradients with respect to these Tensors during the backward pass.
x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
y = torch.sin(x)

# Create random Tensors for weights. For this example, we need
# 4 weights: y = a + b * P3(c + d * x), these weights need to be initialized
# not too far from the correct result to ensure convergence.
# Setting requires_grad=True indicates that we want to compute gradients with
# respect to these Tensors during the backward pass.
a = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
b = torch.full((), -1.0, device=device, dtype=dtype, requires_grad=True)
c = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
d = torch.full((), 0.3, device=device, dtype=dtype, requires_grad=True)

learning_rate = 5e-6
for t in range(2000):
    # To apply our Function, we use Function.apply method. We alias this as 'P3'.
    P3 = LegendrePolynomial3.apply

    # Forward pass: compute predicted y using operations; we compute
    # P3 using our custom autograd operation.
    y_pred = a + b * P3(c + d * x)

    # Compute and print loss
    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(t, loss.item())

    # Use autograd to compute the backward pass.
    loss.backward()

    # Update weights using gradient descent
    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad

        # Manually zero the gradients after updating weights
        a.grad = None
        b.grad = None
        c.grad = None
        d.grad = None

print(f'Result: y = {a.item()} + {b.item()} * P3({c.item()} + {d.item()} x)')
'''

# What the notes printed when it ran the program on PyTorch.
SEED_OUTPUT = '''\
99 209.95831298828125
199 144.6602020263672
299 100.70250701904297
399 71.03519439697266
499 50.97850799560547
599 37.403133392333984
699 28.206867218017578
799 21.97317886352539
899 17.745729446411133
999 14.877889633178711
1099 12.93176555633545
1199 11.610918045043945
1299 10.714245796203613
1399 10.105476379394531
1499 9.69210433959961
1599 9.411376953125
1699 9.220744132995605
1799 9.091286659240723
1899 9.003360748291016
1999 8.943641662597656
Result: y = 4.691534383205465e-10 + -2.208526849746704 * P3(2.9543581470115043e-10 + 0.2554861009120941 x)
'''


RESULT_LINE = re.compile(r"Result: y = (\S+) \+ (\S+) \* P3\((\S+) \+ (\S+) x\)")


def parse(output):
    """-> ({t: loss}, (a, b, c, d)) from the program's printed lines."""
    losses = {int(t): float(loss) for t, loss in re.findall(r"^(\d+) (\S+)$", output, flags=re.MULTILINE)}
    match = RESULT_LINE.search(output)
    assert match, f"no Result line in the output:\n{output}"
    return losses, tuple(float(v) for v in match.groups())


@pytest.fixture(scope="module")
def minitorch_program():
    source = SEED_PROGRAM.replace("import torch\n", "import nnlab.minitorch as torch\n")
    assert source.count("import nnlab.minitorch as torch") == 1 and "import torch" not in source
    return source


def test_seed_program_prints_the_seed_numbers(minitorch_program, capsys):
    exec(compile(minitorch_program, "legendre_seed.py", "exec"), {"__name__": "__main__"})
    captured = capsys.readouterr()
    assert captured.err == "", f"the program wrote to stderr:\n{captured.err}"
    losses, (a, b, c, d) = parse(captured.out)
    expected_losses, (_, expected_b, _, expected_d) = parse(SEED_OUTPUT)

    assert sorted(losses) == list(range(99, 2000, 100))
    assert expected_losses[1999] == 8.943641662597656
    for t, expected in expected_losses.items():
        assert losses[t] == pytest.approx(expected, rel=1e-4), f"loss at t={t}"
    assert b == pytest.approx(-2.208526849746704, rel=1e-4) and b == pytest.approx(expected_b, rel=1e-4)
    assert d == pytest.approx(0.2554861009120941, rel=1e-4) and d == pytest.approx(expected_d, rel=1e-4)
    assert abs(a) < 1e-6 and abs(c) < 1e-6


def test_seed_program_keeps_float32(minitorch_program):
    """The fit's tensors stay float32 (torch.float), which is what makes the numbers match."""
    namespace = {"__name__": "__main__", "print": lambda *args, **kwargs: None}
    exec(compile(minitorch_program, "legendre_seed.py", "exec"), namespace)
    torch = namespace["torch"]
    for name in ("x", "y", "a", "b", "c", "d", "y_pred", "loss"):
        assert namespace[name].dtype == torch.float32, name
    assert namespace["a"].is_leaf and namespace["a"].grad is None  # the program sets it to None


def test_same_program_on_pytorch_prints_the_same_numbers(minitorch_program, capsys):
    """When PyTorch is installed (it is optional), run the program on both and compare."""
    pytest.importorskip("torch", reason="PyTorch (optional, the second implementation) is not installed")
    exec(compile(SEED_PROGRAM, "legendre_seed_torch.py", "exec"), {"__name__": "__main__"})
    torch_losses, (_, torch_b, _, torch_d) = parse(capsys.readouterr().out)
    exec(compile(minitorch_program, "legendre_seed.py", "exec"), {"__name__": "__main__"})
    losses, (_, b, _, d) = parse(capsys.readouterr().out)
    assert losses.keys() == torch_losses.keys()
    for t in losses:
        assert losses[t] == pytest.approx(torch_losses[t], rel=1e-5), f"loss at t={t}"
    assert b == pytest.approx(torch_b, rel=1e-5) and d == pytest.approx(torch_d, rel=1e-5)
