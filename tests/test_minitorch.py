"""nnlab.minitorch: every operation's gradient against central differences (float64),
on random shapes and values drawn by hypothesis, plus the engine's rules (accumulation,
no_grad, in-place updates, saved tensors, dtypes) and its errors, which are PyTorch's.
These tests need no PyTorch; tests/test_minitorch_vs_torch.py compares with it.

The check is the vector-Jacobian form: for an expression out = f(x1, x2, ...)
and a fixed random upstream gradient G shaped like out, backward(gradient=G)
must give dL/dxi for L = sum(G * out), each shaped like xi; the reference
perturbs one entry of one input at a time by +-h.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

import nnlab.minitorch as mt
from nnlab.minitorch.autograd import Function

SETTINGS = settings(max_examples=25, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)
SHAPES = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
TOL = 1e-7


# ----- the reference: central differences in float64 -----
def numerical_gradients(f, arrays, upstream, h=1e-6):
    """[dL/dx for x in arrays], L = sum(upstream * f(*arrays)), by central differences."""
    def loss(values):
        with mt.no_grad():
            return float(np.sum(upstream * f(*[mt.tensor(v, dtype=mt.float64) for v in values]).numpy()))

    grads = []
    for i, x in enumerate(arrays):
        grad = np.zeros_like(x)
        for index in np.ndindex(x.shape):
            plus, minus = [v.copy() for v in arrays], [v.copy() for v in arrays]
            plus[i][index] += h
            minus[i][index] -= h
            grad[index] = (loss(plus) - loss(minus)) / (2 * h)
        grads.append(grad)
    return grads


def rel_error(got, expected):
    """max |got - expected| / max(1, |got| + |expected|): relative for large entries, absolute near 0."""
    return float(np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(got) + np.abs(expected)), initial=0.0))


def check_gradients(f, *arrays, seed=0):
    """Run f on float64 tensors that require grad, backpropagate a random upstream
    gradient, and compare every input's .grad with central differences."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    inputs = [mt.tensor(a, dtype=mt.float64, requires_grad=True) for a in arrays]
    out = f(*inputs)
    upstream = np.random.default_rng(seed).normal(size=out.shape)
    out.backward(gradient=mt.tensor(upstream))
    expected = numerical_gradients(f, arrays, upstream)
    for k, (x, want) in enumerate(zip(inputs, expected)):
        assert x.grad is not None, f"input {k} got no gradient"
        assert x.grad.shape == x.shape, f"input {k}: grad shape {x.grad.shape}, tensor shape {x.shape}"
        assert x.grad.dtype == mt.float64
        err = rel_error(x.grad.numpy(), want)
        assert err < TOL, (f"input {k} (shape {x.shape}): relative error {err:.2e}\n"
                           f"got\n{x.grad.numpy()}\nexpected\n{want}")
    return out


def uniform(rng, shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape)


def away_from_zero(rng, shape, low=0.5, high=2.0):
    """Values with |v| in [low, high] and random sign (denominators, relu away from its kink)."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


# ----- elementwise binary operators, with broadcasting -----
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}


@SETTINGS
@given(op=st.sampled_from(sorted(BINARY)), shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4),
       seed=SEEDS)
def test_binary_operator_gradients_with_broadcasting(op, shapes, seed):
    rng = np.random.default_rng(seed)
    shape_a, shape_b = shapes.input_shapes
    a = rng.uniform(0.5, 2.0, size=shape_a) if op == "pow" else uniform(rng, shape_a)  # pow: positive base
    b = away_from_zero(rng, shape_b) if op == "div" else uniform(rng, shape_b)
    out = check_gradients(BINARY[op], a, b, seed=seed)
    assert out.shape == shapes.result_shape


def test_broadcast_column_plus_row():
    """(3, 1) + (4,) -> (3, 4); dL/da sums over the 4 columns, dL/db over the 3 rows."""
    a = mt.tensor(np.arange(3.0).reshape(3, 1), requires_grad=True)
    b = mt.tensor(np.arange(4.0), requires_grad=True)
    out = a + b
    assert out.shape == (3, 4)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((3, 1), 4.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full((4,), 3.0))
    check_gradients(lambda a, b: a * b + a, np.arange(3.0).reshape(3, 1), np.linspace(-1, 1, 4))


SCALAR_FORMS = {
    "x + 2": lambda x: x + 2,
    "2 + x": lambda x: 2 + x,
    "x - 1.5": lambda x: x - 1.5,
    "1.5 - x": lambda x: 1.5 - x,
    "3 * x": lambda x: 3 * x,
    "x * 0.5": lambda x: x * 0.5,
    "x / 4": lambda x: x / 4,
    "3 / x": lambda x: 3 / x,
    "x ** 3": lambda x: x ** 3,
    "x.pow(2)": lambda x: x.pow(2),
    "x ** -1": lambda x: x ** -1,
    "2 ** x": lambda x: 2 ** x,
    "-x": lambda x: -x,
    "x * array": lambda x: x * np.full(x.shape, 1.5),
    "x - array": lambda x: x - np.full(x.shape, 1.5),
    "x.clamp(min=-1.2, max=1.3)": lambda x: x.clamp(min=-1.2, max=1.3),
}


@SETTINGS
@given(form=st.sampled_from(sorted(SCALAR_FORMS)), shape=SHAPES, seed=SEEDS)
def test_operators_with_python_scalars_and_reflected(form, shape, seed):
    x = away_from_zero(np.random.default_rng(seed), shape)
    out = check_gradients(SCALAR_FORMS[form], x, seed=seed)
    assert isinstance(out, mt.Tensor)


# ----- elementwise functions -----
UNARY = {
    "sin": (mt.sin, uniform),
    "exp": (mt.exp, uniform),
    "log": (mt.log, lambda rng, shape: rng.uniform(0.2, 3.0, size=shape)),
    "relu": (mt.relu, away_from_zero),  # no value near the kink at 0
    "tanh": (mt.tanh, uniform),
    "sigmoid": (mt.sigmoid, uniform),
    "cos": (mt.cos, uniform),
    "sqrt": (mt.sqrt, lambda rng, shape: rng.uniform(0.2, 3.0, size=shape)),
    "abs": (mt.abs, away_from_zero),
    "clamp(min=0)": (lambda x: x.clamp(min=0.0), away_from_zero),
    "T": (lambda x: x.T, uniform),
    "reshape(-1)": (lambda x: x.reshape(-1) * mt.arange(x.numel(), dtype=mt.float64), uniform),
    "unsqueeze(0)": (lambda x: x.unsqueeze(0), uniform),
    "clone": (lambda x: x.clone() * 2, uniform),
    "max()": (lambda x: x.max(), uniform),
    "min()": (lambda x: x.min(), uniform),
    "where": (lambda x: mt.where(x > 0, x * x, -3 * x), away_from_zero),
    "maximum": (lambda x: mt.maximum(x, mt.zeros_like(x) + 0.25), away_from_zero),
    "softmax(-1)": (lambda x: x.softmax(-1) if x.ndim else x.exp(), uniform),
    "cat, stack": (lambda x: mt.cat([x.reshape(-1), x.reshape(-1) * 2]) * mt.stack([x, x]).reshape(-1).sum(), uniform),
    "square": (lambda x: x.square(), uniform),
    "var": (lambda x: x.reshape(-1).var() if x.numel() > 1 else x * 1, uniform),
    "std": (lambda x: x.reshape(-1).std(unbiased=False) if x.numel() > 1 else x * 1, away_from_zero),
    "norm": (lambda x: x.norm(), away_from_zero),
    "max(dim)": (lambda x: x.max(dim=-1).values if x.ndim else x * 1, uniform),
    "expand": (lambda x: x.unsqueeze(0).expand(3, *x.shape) * mt.arange(3.0, dtype=mt.float64).reshape(
        (3,) + (1,) * x.ndim), uniform),
}


@SETTINGS
@given(name=st.sampled_from(sorted(UNARY)), shape=SHAPES, seed=SEEDS)
def test_elementwise_function_gradients(name, shape, seed):
    f, draw = UNARY[name]
    check_gradients(f, draw(np.random.default_rng(seed), shape), seed=seed)


def test_forward_values_match_numpy():
    x = np.linspace(-2, 2, 9)
    t = mt.tensor(x, dtype=mt.float64)
    np.testing.assert_allclose(mt.sin(t).numpy(), np.sin(x))
    np.testing.assert_allclose(mt.cos(t).numpy(), np.cos(x))
    np.testing.assert_allclose(mt.sqrt(t * t).numpy(), np.abs(x))
    np.testing.assert_allclose(mt.exp(t).numpy(), np.exp(x))
    np.testing.assert_allclose(mt.log(t + 3).numpy(), np.log(x + 3))
    np.testing.assert_array_equal(mt.relu(t).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(mt.tanh(t).numpy(), np.tanh(x))
    np.testing.assert_allclose(mt.sigmoid(t).numpy(), 1 / (1 + np.exp(-x)))
    np.testing.assert_array_equal(mt.sigmoid(mt.tensor([-1e4, 1e4])).numpy(), [0.0, 1.0])  # no overflow
    np.testing.assert_array_equal(mt.relu(mt.tensor([0.0], requires_grad=True)).detach().numpy(), [0.0])


def test_relu_gradient_is_zero_at_the_kink():
    x = mt.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    mt.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 1.0])


# ----- reductions -----
@st.composite
def shape_and_dim(draw):
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axes = draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=1, max_size=len(shape),
                         unique_by=lambda a: a % len(shape)))
    return shape, draw(st.sampled_from([None, axes[0], tuple(axes)]))


@SETTINGS
@given(case=shape_and_dim(), keepdim=st.booleans(), reduction=st.sampled_from(["sum", "mean"]), seed=SEEDS)
def test_sum_and_mean_gradients(case, keepdim, reduction, seed):
    shape, dim = case
    x = uniform(np.random.default_rng(seed), shape)
    out = check_gradients(lambda t: getattr(t, reduction)(dim=dim, keepdim=keepdim), x, seed=seed)
    expected = getattr(np, reduction)(x, axis=dim, keepdims=keepdim)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12)


def test_sum_and_mean_over_a_dim():
    x = mt.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    np.testing.assert_array_equal(x.sum(dim=0).detach().numpy(), [18.0, 22.0, 26.0])
    np.testing.assert_array_equal(x.mean(dim=1, keepdim=True).detach().numpy(), [[1.0], [4.0], [7.0], [10.0]])
    np.testing.assert_array_equal(x.mean(dim=(0, -1)).detach().numpy(), 5.5)
    x.mean(dim=0).backward(gradient=mt.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad.numpy(), np.tile([0.25, 0.5, 0.75], (4, 1)))


def test_sum_and_mean_of_everything_are_scalars():
    x = mt.tensor([[1.0, 2.0], [3.0, 6.0]], requires_grad=True)
    assert x.sum().shape == () and x.sum().item() == 12.0
    assert x.mean().item() == 3.0
    x.mean().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 0.25))


# ----- matmul -----
@st.composite
def matmul_shapes(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    batch = draw(mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3)).input_shapes
    return draw(st.sampled_from([
        ((n, k), (k, m)),  # matrix @ matrix
        ((k,), (k, m)),  # row vector @ matrix
        ((n, k), (k,)),  # matrix @ column vector
        ((k,), (k,)),  # inner product
        ((n, 1), (1, m)),  # outer product, as delta.T @ x.T in the lessons
        (batch[0] + (n, k), batch[1] + (k, m)),  # stacks of matrices, broadcast
        (batch[0] + (n, k), (k,)),
        ((k,), batch[1] + (k, m)),
    ]))


@SETTINGS
@given(shapes=matmul_shapes(), seed=SEEDS, use_function=st.booleans())
def test_matmul_gradients(shapes, seed, use_function):
    rng = np.random.default_rng(seed)
    a, b = uniform(rng, shapes[0]), uniform(rng, shapes[1])
    out = check_gradients(mt.matmul if use_function else (lambda p, q: p @ q), a, b, seed=seed)
    np.testing.assert_allclose(out.detach().numpy(), a @ b, rtol=1e-12)


def test_matmul_with_a_numpy_array_on_the_right_only():
    """As in PyTorch: tensor @ array works; array @ tensor raises TypeError (numpy does not know tensors)."""
    W = mt.tensor(np.eye(2) * 3.0, dtype=mt.float64, requires_grad=True)
    x = np.array([[1.0], [2.0]])  # column vector (2, 1)
    (W @ x).sum().backward()
    np.testing.assert_array_equal(W.grad.numpy(), np.array([[1.0, 2.0], [1.0, 2.0]]))  # delta.T @ x.T
    for operation in (lambda: x.T @ W, lambda: np.ones(2) * mt.ones(2), lambda: np.ones(2) - mt.ones(2)):
        with pytest.raises(TypeError):
            operation()
    assert (np.float64(2.0) * mt.ones(2)).dtype == mt.float32  # a numpy scalar is a number


# ----- indexing -----
@SETTINGS
@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), seed=SEEDS, data=st.data())
def test_indexing_gradients(shape, seed, data):
    rng = np.random.default_rng(seed)
    rows = data.draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=5))  # repeats allowed
    index = data.draw(st.sampled_from([
        0, -1, slice(None, None, 2), np.array(rows), mt.tensor(rows), (np.array(rows), Ellipsis),
    ]))
    out = check_gradients(lambda t: t[index], uniform(rng, shape), seed=seed)
    assert out.shape == np.zeros(shape)[index.numpy() if isinstance(index, mt.Tensor) else index].shape


def test_picking_log_probabilities_by_label():
    """Batch form: logits (N, C), labels (N,) ints; J = -mean log p[n, label[n]]."""
    logits = mt.tensor([[1.0, 2.0, 0.5], [0.0, 0.0, 3.0]], dtype=mt.float64, requires_grad=True)
    labels = np.array([1, 2])
    J = -mt.log_softmax(logits, dim=1)[np.arange(2), labels].mean()
    J.backward()
    values = logits.detach().numpy()
    p = np.exp(values) / np.exp(values).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(logits.grad.numpy(), (p - np.eye(3)[labels]) / 2, rtol=1e-12)


# ----- log_softmax -----
@SETTINGS
@given(shape=array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4), seed=SEEDS, data=st.data())
def test_log_softmax_gradients_and_values(shape, seed, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = uniform(np.random.default_rng(seed), shape, -3, 3)
    out = check_gradients(lambda t: mt.log_softmax(t, dim), x, seed=seed)
    reference = x - np.log(np.sum(np.exp(x), axis=dim, keepdims=True))
    np.testing.assert_allclose(out.detach().numpy(), reference, rtol=1e-12, atol=1e-12)


def test_log_softmax_is_finite_for_huge_logits():
    theta = mt.tensor([[1e4, -1e4, 0.0]], dtype=mt.float64, requires_grad=True)
    out = mt.log_softmax(theta, dim=1)
    np.testing.assert_allclose(out.detach().numpy(), [[0.0, -2e4, -1e4]])
    (out * mt.tensor([[1.0, 0.0, 0.0]])).sum().backward()
    assert np.all(np.isfinite(theta.grad.numpy()))


def test_cross_entropy_gradient_is_yhat_minus_y():
    """Identity (7) of the lessons: J = -sum(y * log_softmax(theta)) gives dJ/dtheta = yhat - y."""
    theta = mt.tensor([[0.5], [-1.0], [2.0]], dtype=mt.float64, requires_grad=True)  # column (C, 1)
    y = np.array([[0.0], [1.0], [0.0]])
    J = -(mt.tensor(y) * mt.log_softmax(theta, dim=0)).sum()
    J.backward()
    yhat = np.exp(theta.detach().numpy()) / np.exp(theta.detach().numpy()).sum()
    np.testing.assert_allclose(theta.grad.numpy(), yhat - y, rtol=1e-12)


# ----- a whole network -----
def test_one_layer_network_gradients():
    """Batch form: X (N, Dx), W (Dx, Dh), b1 (Dh,), U (Dh, Nc), b2 (Nc,); mean cross-entropy."""
    rng = np.random.default_rng(0)
    N, Dx, Dh, Nc = 5, 4, 6, 3
    labels = rng.integers(0, Nc, size=N)
    onehot = np.eye(Nc)[labels]

    def loss(X, W, b1, U, b2):
        H = mt.relu(X @ W + b1)
        return -(mt.tensor(onehot) * mt.log_softmax(H @ U + b2, dim=1)).sum() / N

    arrays = [rng.normal(size=s) for s in [(N, Dx), (Dx, Dh), (Dh,), (Dh, Nc), (Nc,)]]
    with mt.no_grad():
        Z = mt.tensor(arrays[0]) @ mt.tensor(arrays[1]) + mt.tensor(arrays[2])
    assert np.min(np.abs(Z.numpy())) > 1e-3  # seed 0 keeps every pre-activation away from relu's kink
    check_gradients(loss, *arrays)


# ----- custom Functions -----
class LegendrePolynomial3(Function):
    """P3(x) = (5x^3 - 3x) / 2, elementwise; dP3/dx = 1.5 (5x^2 - 1)."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


class ScaledProduct(Function):
    """out = scale * a * b, with a python-number argument that gets no gradient."""

    @staticmethod
    def forward(ctx, a, scale, b):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return scale * a * b

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return grad_output * ctx.scale * b, None, grad_output * ctx.scale * a


@SETTINGS
@given(shape=SHAPES, seed=SEEDS)
def test_custom_function_gradients(shape, seed):
    rng = np.random.default_rng(seed)
    check_gradients(lambda x: 2.0 * LegendrePolynomial3.apply(x * 0.7 + 0.1), uniform(rng, shape), seed=seed)
    check_gradients(lambda a, b: ScaledProduct.apply(a, 1.5, b), uniform(rng, shape), uniform(rng, shape), seed=seed)


def test_custom_function_forward_builds_no_graph_and_backward_gets_a_tensor():
    seen = {}

    class Spy(Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            seen["forward requires_grad"] = y.requires_grad
            seen["grad enabled in forward"] = mt.is_grad_enabled()
            return y

        @staticmethod
        def backward(ctx, grad_output):
            seen["grad_output"] = grad_output
            return grad_output * 2

    x = mt.tensor([1.0, 2.0], requires_grad=True)
    out = Spy.apply(x)
    assert out.requires_grad and not out.is_leaf
    out.sum().backward()
    assert seen["forward requires_grad"] is False and seen["grad enabled in forward"] is False
    assert isinstance(seen["grad_output"], mt.Tensor) and seen["grad_output"].shape == (2,)
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
    assert mt.is_grad_enabled()


def test_custom_function_wrong_number_of_gradients_is_named():
    class TwoGrads(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output, grad_output

    with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 1, got 2\)"):
        TwoGrads.apply(mt.tensor([1.0], requires_grad=True)).sum().backward()


def test_custom_function_gradient_of_wrong_shape_names_both_shapes():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, grad_output):
            return mt.ones(3)

    with pytest.raises(RuntimeError, match=r"got \[3\] but expected shape compatible with \[2, 1\]"):
        BadShape.apply(mt.ones(2, 1, requires_grad=True)).sum().backward()


# ----- the engine's rules -----
def test_gradients_accumulate_across_backward_calls():
    x = mt.tensor([1.0, -2.0], dtype=mt.float64, requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()  # a second graph
    np.testing.assert_array_equal(x.grad.numpy(), 2 * (2 * x.detach().numpy()))
    loss = (mt.exp(x) * 3).sum()
    x.grad = None
    loss.backward(retain_graph=True)
    loss.backward()  # the same graph twice, kept by retain_graph: intermediate gradients start fresh
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * np.exp(x.detach().numpy()))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()  # freed now, as in PyTorch: no silently doubled gradient


def test_accumulated_gradient_keeps_dtype_and_stays_an_array():
    a = mt.full((), 1.5, requires_grad=True)  # a 0-d float32 parameter, as in the notes' fit
    x = mt.ones(3, requires_grad=True)
    for _ in range(2):
        (a * a).backward()
        (x * np.full(3, 2.0)).sum().backward()  # float64 numpy operand
    assert isinstance(a.grad.numpy(), np.ndarray) and a.grad.shape == () and a.grad.dtype == mt.float32
    assert a.grad.item() == 6.0 and x.grad.dtype == mt.float32
    a.grad.zero_()
    assert a.grad.item() == 0.0


def test_shared_subexpression_gets_both_contributions():
    """y = x * x uses x twice; the closure adds both paths (micrograd's += )."""
    x = mt.tensor(3.0, dtype=mt.float64, requires_grad=True)
    h = x * 2
    (h * h + h).backward()
    assert x.grad.item() == pytest.approx(2 * (2 * 6.0 + 1))


def test_only_leaves_that_require_grad_get_grad():
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    c = mt.tensor([3.0, 4.0])
    (w * c).sum().backward()
    assert w.is_leaf and w.grad is not None
    assert c.grad is None and not c.requires_grad


def test_no_grad_builds_no_graph():
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    with mt.no_grad():
        y = (w * 3).sum()
        assert not mt.is_grad_enabled()
    assert mt.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_as_a_decorator():
    @mt.no_grad()
    def double(t):
        return t * 2

    assert not double(mt.ones(2, requires_grad=True)).requires_grad
    assert mt.is_grad_enabled()


def test_no_grad_restores_state_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with mt.no_grad():
            1 / 0
    assert mt.is_grad_enabled()


def test_inplace_update_under_no_grad_keeps_the_same_tensor():
    """The notes' update step: a -= lr * a.grad changes a's data, not which object a is."""
    a = mt.full((), 0.5, requires_grad=True)
    (a * a).backward()
    before, memory_before = id(a), a.detach().numpy()
    with mt.no_grad():
        a -= 0.1 * a.grad
        a.grad = None
    assert id(a) == before and np.shares_memory(a.detach().numpy(), memory_before)
    assert a.item() == pytest.approx(0.5 - 0.1 * 1.0) and a.dtype == mt.float32
    assert a.requires_grad and a.is_leaf and a.grad is None
    (a * 2).backward()
    assert a.grad.item() == 2.0
    with mt.no_grad():
        a += 1.0
        a *= 2.0
        a /= 4.0
    assert a.item() == pytest.approx((0.4 + 1.0) * 2.0 / 4.0)


def test_inplace_update_of_a_leaf_outside_no_grad_is_refused():
    a = mt.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        a -= 1.0
    with pytest.raises(RuntimeError, match="leaf Variable"):
        a.zero_()
    b = mt.zeros(2)
    b += 1  # fine: nothing requires grad
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0])


def test_grad_zero_and_detach():
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    w.grad.zero_()
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    d = w.detach()
    assert not d.requires_grad and np.shares_memory(d.numpy(), w.detach().numpy())


def test_grads_of_two_inputs_are_separate_arrays():
    a, b = mt.tensor([1.0], requires_grad=True), mt.tensor([2.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.zero_()
    assert b.grad.item() == 1.0


def test_long_chain_needs_no_recursion():
    x = mt.tensor(1.0, dtype=mt.float64, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001 ** 5000)


# ----- dtypes, devices, factories -----
def test_dtypes_follow_torch():
    assert mt.float is mt.float32 and mt.double is mt.float64
    assert mt.tensor(1.0).dtype == mt.float32
    assert mt.tensor([1, 2]).dtype == mt.int64
    assert mt.tensor(np.array([1.0])).dtype == mt.float64  # numpy arrays keep their dtype
    assert mt.tensor([1.0], dtype=mt.float64).dtype == mt.float64
    assert mt.full((), 0.0).dtype == mt.float32 and mt.full((2,), 3).dtype == mt.int64
    assert mt.zeros(2, 3).dtype == mt.float32 and mt.zeros((2, 3)).shape == (2, 3)
    assert mt.ones(4, dtype=mt.float64).dtype == mt.float64
    x32 = mt.linspace(0, 1, 5)
    assert x32.dtype == mt.float32 and x32.shape == (5,)
    assert (0.5 * x32).dtype == mt.float32 and (x32 ** 3).dtype == mt.float32 and (2 - x32).dtype == mt.float32
    assert (x32 + mt.ones(5, dtype=mt.float64)).dtype == mt.float64
    w = mt.ones(5, requires_grad=True)
    (w * x32).sum().backward()
    assert w.grad.dtype == mt.float32


def test_factories_values():
    np.testing.assert_allclose(mt.linspace(-1, 1, 5, dtype=mt.float64).numpy(), [-1, -0.5, 0, 0.5, 1])
    assert mt.linspace(0, 1, 3, dtype=mt.float64).dtype == mt.float64
    np.testing.assert_array_equal(mt.linspace(-np.pi, np.pi, 7).numpy(),
                                  np.linspace(-np.pi, np.pi, 7).astype(np.float32))
    assert mt.full((2, 2), 7.0).numpy().tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert mt.ones(3).sum().item() == 3.0 and mt.zeros(3).sum().item() == 0.0
    source = np.array([1.0, 2.0])
    t = mt.tensor(source)
    source[0] = 99.0
    assert t.numpy()[0] == 1.0  # tensor() copies


def test_device():
    assert mt.device("cpu") == mt.device("cpu") and repr(mt.device("cpu")) == "device(type='cpu')"
    assert mt.ones(2, device=mt.device("cpu")).device == mt.device("cpu")
    assert mt.zeros(2, device="cpu").shape == (2,)
    with pytest.raises(RuntimeError, match="'cuda:0' is not available"):
        mt.device("cuda:0")
    with pytest.raises(RuntimeError, match="'cuda' is not available"):
        mt.ones(2, device="cuda")


def test_tensor_basics():
    x = mt.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    assert x.shape == (1, 3) and x.T.shape == (3, 1) and x.ndim == 2 and len(x) == 1
    assert "requires_grad=True" in repr(x) and "1., 2., 3." in repr(x)
    assert "dtype=torch.float64" in repr(mt.tensor([1.0], dtype=mt.float64))
    assert "grad_fn=<MulBackward0>" in repr(x * 2) and repr(x.shape) == "torch.Size([1, 3])"
    assert mt.tensor(2.5).item() == 2.5 and isinstance(mt.tensor(2.5).item(), float)
    assert np.asarray(x.detach()).shape == (1, 3)
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(x)  # as in PyTorch: detach() first
    assert isinstance(mt.ones(3) * np.ones(3), mt.Tensor)


def test_comparisons_and_conversions_follow_torch():
    x = mt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert (x > 1.5).numpy().tolist() == [False, True, True] and (x == 2.0).dtype == mt.bool_
    assert not (x <= 0).requires_grad
    assert (x >= 1).all() and (x != 2).any() and not (x < 1).any()
    loss = (x * x).sum()
    assert f"{loss:.2f}" == "14.00" and float(loss) == 14.0 and bool(loss > 10)
    assert len({x, x * 1, x}) == 2  # hashed by identity
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x > 0)


# ----- clear errors: PyTorch's types, with the shapes named -----
def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"\(3x4 and 5x2\)"):
        mt.ones(3, 4) @ mt.ones(5, 2)
    with pytest.raises(RuntimeError, match=r"\[3\] and src \[4\]"):
        mt.matmul(mt.ones(3), mt.ones(4))
    with pytest.raises(RuntimeError, match=r"0D and 1D"):
        mt.tensor(1.0) @ mt.ones(2)
    with pytest.raises(RuntimeError, match=r"same dtype, but got: float != double"):
        mt.ones(2, 2) @ mt.ones(2, 2, dtype=mt.float64)


def test_backward_on_non_scalar_without_gradient_says_so():
    x = mt.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"implicitly created only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=r"grad_output\[0\] has a shape of torch.Size\(\[3\]\) and "
                                           r"output\[0\] has a shape of torch.Size\(\[2, 3\]\)"):
        (x * 2).backward(gradient=mt.ones(3))
    with pytest.raises(TypeError, match="Tensors or None"):
        (x * 2).backward(gradient=np.ones((2, 3)))


def test_broadcast_mismatch_names_both_sizes():
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of tensor b \(4\)"):
        mt.ones(3) + mt.ones(4)


def test_other_bad_inputs():
    with pytest.raises(RuntimeError, match=r"a Tensor with 2 elements cannot be converted to Scalar"):
        mt.ones(2).item()
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        mt.ones(2, requires_grad=True).numpy()
    with pytest.raises(RuntimeError, match="floating point"):
        mt.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="numbers of one type"):
        mt.tensor(["a", "b"])
    with pytest.raises(RuntimeError, match=r"shape '\[2\]' is invalid for input of size 3"):
        mt.ones(3).view(2)


# ----- PyTorch's rules, without PyTorch (test_minitorch_vs_torch.py checks them against it) -----
def test_dtype_rules():
    assert mt.tensor([1.0]).dtype == mt.float32 and mt.Tensor([1, 2]).dtype == mt.float32
    assert mt.tensor([1, 2]).dtype == mt.int64 and (mt.tensor([1, 2]) * 0.5).dtype == mt.float32
    assert (mt.tensor([1, 2]) / 2).dtype == mt.float32 and mt.tensor([1, 2]).sum().dtype == mt.int64
    assert (mt.tensor([1, 2]) + mt.tensor([1.5, 2.5])).dtype == mt.float32  # numpy would say float64
    assert (mt.ones(2) + mt.tensor(1.0, dtype=mt.float64)).dtype == mt.float32  # a 0-dim tensor does not promote
    assert repr(mt.float32) == "torch.float32" and mt.float32 != np.float32
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype"):
        mt.tensor([1, 2]).mean()
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        mt.tensor([1, 2]) ** -1


def test_non_leaf_grad_is_none_with_a_warning_and_sgd_outside_no_grad_fails_on_step_two():
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    w = w - 0.1 * w.grad  # outside no_grad: w is now a non-leaf
    assert not w.is_leaf and w.grad_fn.name() == "SubBackward0"
    (w * w).sum().backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        assert w.grad is None
    with pytest.raises(TypeError):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w - 0.1 * w.grad


def test_retain_grad_keeps_an_intermediate_gradient():
    w = mt.tensor([1.0, 2.0], requires_grad=True)
    h = w * w
    h.retain_grad()
    (h * 3).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(w.grad.numpy(), [6.0, 12.0])


def test_modifying_a_saved_tensor_before_backward_raises():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    e = x.exp()  # saves its output for backward
    e.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*version 1; expected version 0"):
        e.sum().backward()
    x.grad = None
    y = (x + 1) * 2  # saves only the number 2: changing x + 1 is harmless, as in PyTorch
    with mt.no_grad():
        x.mul_(3)  # x is not saved either
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_inplace_on_a_non_leaf_is_recorded():
    """h += 1 and g[mask] = 0 on a non-leaf are part of the graph, as in PyTorch."""
    w = mt.tensor([1.0, -2.0, 3.0], dtype=mt.float64, requires_grad=True)
    h = w * w
    z = h * 3  # uses h before the change
    h += 1
    h[w < 0] = 0
    assert h.grad_fn.name() == "CopySlices" and h._version == 2
    (h * h + z).sum().backward()
    expected = 2 * (w.detach().numpy() ** 2 + 1) * 2 * w.detach().numpy() * (w.detach().numpy() > 0) \
        + 3 * 2 * w.detach().numpy()
    np.testing.assert_allclose(w.grad.numpy(), expected)


def test_custom_function_needs_input_grad_and_none_gradients():
    seen = {}

    class Scale(Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            return x * w

        @staticmethod
        def backward(ctx, grad_output):
            x, w = ctx.saved_tensors
            seen["needs"] = ctx.needs_input_grad
            return (grad_output * w if ctx.needs_input_grad[0] else None,
                    grad_output * x if ctx.needs_input_grad[1] else None)

    x, w = mt.tensor([1.0, 2.0]), mt.tensor([3.0, 4.0], requires_grad=True)
    out = Scale.apply(x, w)
    assert out.grad_fn.name() == "ScaleBackward"
    out.sum().backward()
    assert seen["needs"] == (False, True) and x.grad is None
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 2.0])
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out.sum().backward()


def test_autograd_grad_leaves_dot_grad_alone():
    x = mt.tensor([0.5, -1.0], dtype=mt.float64, requires_grad=True)
    h = x * x
    y = (h * x).sum()  # x ** 3
    dy_dx, dy_dh = mt.autograd.grad(y, [x, h])
    np.testing.assert_allclose(dy_dx.numpy(), 3 * x.detach().numpy() ** 2)
    np.testing.assert_allclose(dy_dh.numpy(), x.detach().numpy())
    assert x.grad is None
    with pytest.raises(RuntimeError, match="not have been used in the graph"):
        mt.autograd.grad((x * 2).sum(), [mt.ones(2, requires_grad=True)])


def test_what_minitorch_leaves_out_is_named():
    with pytest.raises(AttributeError, match="torch.nn is part of PyTorch that minitorch does not implement"):
        mt.nn
    with pytest.raises(AttributeError, match="tensor.gather is not in it"):
        mt.ones(2).gather
    with pytest.raises(NotImplementedError, match="create_graph=True"):
        (mt.ones(2, requires_grad=True) * 2).sum().backward(create_graph=True)
    with pytest.raises(NotImplementedError, match="CUDA"):
        mt.ones(2).cuda()
    with pytest.raises(NotImplementedError, match="CopySlices"):
        h = mt.ones(3, requires_grad=True) * 2
        h[1:].add_(1)
    assert not mt.cuda.is_available()
