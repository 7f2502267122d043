"""nnlab.feedback: the reference passes, every known mistake is named, bad answers get
clear messages, and nothing reaches stderr."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

from nnlab.exercises import EXERCISES, wrong_variant
from nnlab.feedback import check_exercise

CONTRACT_IDS = [  # in lesson order
    "softmax", "chain_rule.dg_dx", *[f"identity{i}" for i in range(1, 8)],
    *[f"onelayer.{k}" for k in ("delta1", "delta2", "U", "b2", "W", "b1", "x")],
    "onelayer_batch", "mse_gradient", "softplus", "dropout_backward", "batchnorm_backward",
]
VARIANTS = [(eid, name) for eid, ex in EXERCISES.items() for name in ex.variants]


def failure(exercise_id, student, **kwargs) -> str:
    """The message check_exercise raises (the test fails if it passes instead)."""
    with pytest.raises(AssertionError) as info:
        check_exercise(exercise_id, student, **kwargs)
    return str(info.value)


@pytest.fixture(autouse=True)
def warnings_are_errors():
    """A numpy warning escaping a check would land on stderr, which nbgrader scores as 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_registry_has_the_contract_ids():
    assert list(EXERCISES) == CONTRACT_IDS
    for ex in EXERCISES.values():
        assert ex.title and ex.variants and callable(ex.make_inputs)


@pytest.mark.parametrize("exercise_id", CONTRACT_IDS)
def test_reference_passes(exercise_id, capfd):
    ex = EXERCISES[exercise_id]
    check_exercise(exercise_id, ex.reference)
    check_exercise(exercise_id, ex.reference, seed=7, cases=3)
    out, err = capfd.readouterr()
    lines = out.splitlines()
    assert [line for line in lines if not line.startswith("⚠")] == [
        f"✓ {exercise_id}: matches the reference on 5 random cases.",
        f"✓ {exercise_id}: matches the reference on 3 random cases.",
    ]
    # Handing in the course's own reference passes here, with a warning that it would not be
    # there while grading (the Softplus reference lives in the catalogue, not in nnlab).
    warned = [line for line in lines if line.startswith("⚠")]
    assert len(warned) == (0 if exercise_id == "softplus" else 2)
    assert all("the course's own answer" in line for line in warned)
    assert err == ""


@pytest.mark.parametrize("exercise_id,name", VARIANTS)
def test_each_known_mistake_is_named(exercise_id, name, capfd):
    message = failure(exercise_id, wrong_variant(exercise_id, name))
    first, *rest = message.splitlines()
    assert first.startswith(f"✗ {exercise_id}: ") and first.endswith(f"known mistake: {name}.")
    assert 1 <= len(rest) <= 3 and rest[0].strip()  # a hint, in a couple of lines
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("exercise_id,name", VARIANTS)
def test_known_mistakes_are_named_on_other_seeds(exercise_id, name):
    assert name in failure(exercise_id, wrong_variant(exercise_id, name), seed=11, cases=4)


def test_importing_feedback_imports_no_reference_module():
    """References load lazily, so feedback imports even while a lesson module is missing."""
    code = ("import sys, nnlab.feedback; "
            "print(sorted(m for m in sys.modules if m.startswith('nnlab.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['nnlab.feedback']"


def test_wrong_variant_rejects_unknown_names():
    with pytest.raises(ValueError, match="outer product reversed"):
        wrong_variant("identity5", "upside down")
    with pytest.raises(ValueError, match="unknown exercise id 'identity8'"):
        check_exercise("identity8", lambda: None)


# ---------------------------------------------------------------- shapes


def test_shape_error_names_both_shapes():
    seen = []

    def dJ_dW_Wx(delta, x):  # drops the last column of W's gradient
        seen.append((delta.shape[1], x.shape[0]))
        return (delta.T @ x.T)[:, :-1]

    message = failure("identity5", dJ_dW_Wx)
    n, m = seen[0]
    assert f"your dJ/dW has shape ({n}, {m - 1}); W has shape (n, m) = ({n}, {m})" in message


def test_shape_error_in_a_backward_dict():
    seen = []

    def backward(cache):
        from nnlab.onelayer import backward as reference

        grads = reference(cache)
        seen.append(grads["b1"].shape)
        return {**grads, "b1": grads["b1"].ravel()}  # (Dh,) instead of (Dh, 1)

    message = failure("onelayer.b1", backward)
    (Dh, _), = seen[:1]
    assert f"your dJ/db1 has shape ({Dh},); b1 has shape (Dh, 1) = ({Dh}, 1)" in message


def test_a_transpose_that_is_not_a_known_mistake_is_still_called_one():
    def dz_dx_elementwise(f_prime, x):  # a full (n, n) answer, but for x as a row
        return np.ones((1, x.shape[0]))

    message = failure("identity4", dz_dx_elementwise)
    assert "your dz/dx has shape (1, " in message and "(n, n)" in message


def test_variant_must_match_on_every_case():
    calls = []

    def dJ_dW_Wx(delta, x):  # transposed on the first case only
        calls.append(1)
        answer = delta.T @ x.T
        return answer.T if len(calls) == 1 else answer

    message = failure("identity5", dJ_dW_Wx)
    assert "known mistake" not in message and "has shape" in message


def test_variant_with_a_flat_shape_is_still_recognised():
    """b2 summed over the wrong axis without keepdims is (N,), the variant (N, 1)."""
    def backward_batch(cache):
        from nnlab.onelayer import backward_batch as reference

        grads = reference(cache)
        N = cache["X"].shape[0]
        dTheta = cache["Yhat"].copy()
        dTheta[np.arange(N), cache["labels"]] -= 1
        return {**grads, "b2": (dTheta / N).sum(axis=1)}

    assert "your dJ/db2 matches a known mistake: summed over the wrong axis" in failure(
        "onelayer_batch", backward_batch)


# ---------------------------------------------------------------- bad answers


def test_not_implemented_yet():
    def dJ_dW_Wx(delta, x):
        raise NotImplementedError

    message = failure("identity5", dJ_dW_Wx)
    assert "not implemented yet" in message and "raise NotImplementedError" in message


def test_returned_none():
    def dJ_dW_Wx(delta, x):
        delta.T @ x.T

    assert "your function returned None; did you forget `return`?" in failure(
        "identity5", dJ_dW_Wx)


def test_student_exception_keeps_type_and_message():
    def dJ_dtheta(theta, y):
        raise ValueError("operands could not be broadcast together")

    message = failure("identity7", dJ_dtheta)
    assert "your dJ_dtheta(theta, y) raised ValueError: operands could not be broadcast" \
        in message
    assert "on case 1: theta (" in message
    assert "Traceback" not in message and "feedback.py" not in message


def test_exception_context_is_suppressed():
    def dg_dx(x):
        return 1 / 0

    with pytest.raises(AssertionError) as info:
        check_exercise("chain_rule.dg_dx", dg_dx)
    assert "raised ZeroDivisionError: division by zero" in str(info.value)
    assert info.value.__suppress_context__ and info.value.__cause__ is None


def test_passing_the_result_instead_of_the_function():
    assert "pass your function itself" in failure("identity1", np.eye(3))


def test_an_object_that_claims_to_equal_everything_does_not_pass():
    class Yes:
        def __eq__(self, other):
            return True

    message = failure("identity1", lambda W, x: Yes())
    assert "your dz/dx is a Yes; expected an array of real numbers" in message


def test_missing_key_in_backward_dict():
    message = failure("onelayer.W", lambda cache: {"U": np.zeros((2, 2)), "b2": 0})
    assert "has no key 'W' (its keys: 'U', 'b2')" in message


def test_backward_must_return_a_dict():
    assert "should return a dict of gradients" in failure("onelayer_batch", lambda c: (1, 2))


def test_tuple_answers_of_the_wrong_length():
    message = failure("mse_gradient", lambda b, m, points: 0.0)
    assert "should return 2 values (dJ/db, dJ/dm)" in message


def test_plain_numeric_error_reports_where_and_values():
    def dJ_dW_Wx(delta, x):
        grad = delta.T @ x.T
        grad[1, 0] += 0.5
        return grad

    message = failure("identity5", dJ_dW_Wx)
    assert "does not match the reference: max relative error" in message
    assert "at index (1, 0)" in message and "There the reference has" in message


def test_non_finite_answer_gets_its_own_message():
    message = failure("identity5", lambda delta, x: np.full((delta.shape[1], x.shape[0]), np.inf))
    assert "your dJ/dW contains inf at index (0, 0)" in message


def test_roundoff_is_not_an_error():
    """A different but exact formula passes: entries that cancel to ~1e-17 are no error."""
    def dJ_dtheta(theta, y):
        p = np.exp(theta - theta.max()) / np.exp(theta - theta.max()).sum()
        return p.T - y.T

    check_exercise("identity7", dJ_dtheta, cases=8)


def test_student_may_modify_its_inputs():
    def dJ_dW_Wx(delta, x):
        grad = delta.T @ x.T
        delta *= 0
        x[...] = np.nan
        return grad

    check_exercise("identity5", dJ_dW_Wx)


def test_lists_are_accepted_as_arrays():
    check_exercise("mse_gradient", lambda b, m, p: list(EXERCISES["mse_gradient"].reference(b, m, p)))
    check_exercise("identity3", lambda x: np.eye(len(x)).tolist())


# ---------------------------------------------------------------- softmax and overflow


def test_softmax_without_max_shift_is_named(capfd):
    def softmax(theta):
        e = np.exp(theta)
        return e / e.sum()

    message = failure("softmax", softmax)
    assert "softmax without the max-shift overflows" in message
    assert "subtract max(theta)" in message
    assert capfd.readouterr().err == ""


def test_softmax_overflow_not_matching_the_variant_gets_the_hint(capfd):
    def softmax(theta):  # inf (not nan) once exp overflows: no known variant, still a hint
        e = np.exp(theta)
        return e / e.sum() if np.all(np.isfinite(e)) else np.full(theta.shape, np.inf)

    message = failure("softmax", softmax)
    assert "your softmax(theta) contains inf at index (0, 0) on case 2" in message
    assert "softmax without the max-shift overflows: subtract max(theta) first" in message
    assert capfd.readouterr().err == ""


def test_a_single_ordinary_case_cannot_see_the_overflow():
    """Odd cases hold logits of +-1e4: cases=1 has none, so a naive softmax passes it."""
    check_exercise("softmax", wrong_variant("softmax", "softmax without the max-shift overflows"),
                   cases=1)


# ---------------------------------------------------------------- softplus (minitorch)


def test_softplus_student_class(capfd):
    import nnlab.minitorch as torch

    class Softplus(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return torch.relu(x) + torch.log(1 + torch.exp(-(torch.relu(x) + torch.relu(-x))))

        @staticmethod
        def backward(ctx, grad_output):
            x, = ctx.saved_tensors
            e = torch.exp(-(torch.relu(x) + torch.relu(-x)))  # exp(-|x|) never overflows
            pos = (x.detach().numpy() > 0).astype(float)
            sig = torch.tensor(pos) * (1 / (1 + e)) + torch.tensor(1 - pos) * (e / (1 + e))
            return grad_output * sig

    check_exercise("softplus", Softplus)
    assert capfd.readouterr().err == ""


def test_softplus_naive_forward_overflows(capfd):
    import nnlab.minitorch as torch

    class Softplus(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return torch.log(1 + torch.exp(x))

        @staticmethod
        def backward(ctx, grad_output):
            x, = ctx.saved_tensors
            return grad_output / (1 + torch.exp(-x))

    message = failure("softplus", Softplus)
    assert "your Softplus.apply(x) matches a known mistake: unstable forward" in message
    assert capfd.readouterr().err == ""


def test_softplus_not_written_yet():
    import nnlab.minitorch as torch

    class Softplus(torch.autograd.Function):
        pass

    assert "not implemented yet" in failure("softplus", Softplus)


def test_softplus_needs_the_class():
    def softplus(x):
        return np.log1p(np.exp(x))

    assert "must subclass torch.autograd.Function" in failure("softplus", softplus)
    cls = EXERCISES["softplus"].reference
    assert "pass your class" in failure("softplus", cls.apply)


def test_softplus_backward_that_returns_nothing():
    import nnlab.minitorch as torch

    class Softplus(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return torch.log(1 + torch.exp(x))

        @staticmethod
        def backward(ctx, grad_output):
            pass

    assert "x.grad is still None" in failure("softplus", Softplus)


# ---------------------------------------------------------------- lesson 06 layers


def test_batchnorm_dgamma_shape_error():
    from nnlab.layers import batchnorm_backward

    seen = []

    def student(dout, cache):
        seen.append(dout.shape)
        dx, dgamma, dbeta = batchnorm_backward(dout, cache)
        return dx, dgamma[None, :], dbeta

    message = failure("batchnorm_backward", student)
    N, D = seen[0]
    assert f"your dgamma has shape (1, {D}); gamma has shape (D,) = ({D},)" in message


def test_dropout_evaluation_mode_is_among_the_cases():
    message = failure("dropout_backward", lambda dout, cache: dout * cache["mask"])
    assert "raised TypeError" in message and "on case 4" in message
    assert "evaluation (train=False, mask None)" in message


def test_dropout_raising_inside_is_reported():
    def dropout_backward(dout, cache):
        return dout * cache["no such key"]

    message = failure("dropout_backward", dropout_backward)
    assert "raised KeyError: 'no such key'" in message
