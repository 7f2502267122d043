"""Where PyTorch refuses, minitorch refuses too: the checks, with PyTorch's exception types and
(shortened) messages. The engine and the operations call these; none of them computes anything.
"""
import warnings

import numpy as np

from .dtypes import to_torch_dtype

BACKWARD_TWICE = ("Trying to backward through the graph a second time (or directly access saved tensors "
                  "after they have already been freed). Saved intermediate values of the graph are freed when "
                  "you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
                  "through the graph a second time or if you need to access saved tensors after calling backward.")


def type_name(array):
    """PyTorch's name for an array's type, as in its messages: torch.FloatTensor."""
    return f"torch.{to_torch_dtype(array.dtype).type_name}Tensor"


def size(shape):
    return f"[{', '.join(map(str, shape))}]"


def not_implemented(feature, hint=""):
    """NotImplementedError naming the PyTorch feature that minitorch leaves out."""
    return NotImplementedError(f"{feature} is not implemented in minitorch (a small subset of PyTorch)"
                               + (f"; {hint}" if hint else ""))


# ----- saved tensors: freed by backward, or modified in place since -----
def check_saved(node):
    """Before a node's backward runs: RuntimeError if backward already freed its saved tensors,
    or if one of them was modified in place after it was saved (PyTorch's version counter)."""
    if node.freed:
        raise RuntimeError(BACKWARD_TWICE)
    for tensor, version in node.saved:
        if tensor._version != version:
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: [{type_name(tensor.array)} {size(tensor.array.shape)}], which is used by "
                f"{node.name()}, is at version {tensor._version}; expected version {version} instead.")


# ----- backward() and autograd.grad() -----
def root_gradient(tensor, gradient, create_graph, index=0, inputs=None):
    """dL/d(output) as an array: 1 for a one-element output when gradient is None, else the Tensor given."""
    if inputs is not None:
        raise not_implemented("backward(inputs=...)", "use torch.autograd.grad(outputs, inputs)")
    if create_graph:
        raise not_implemented("create_graph=True (higher-order gradients)")
    if not tensor.requires_grad:
        raise RuntimeError(f"element {index} of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if tensor.array.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return np.ones_like(tensor.array)
    if not hasattr(gradient, "grad_fn"):
        raise TypeError(f"gradients can be either Tensors or None, but got {type(gradient).__name__}")
    if gradient.array.shape != tensor.array.shape:
        raise RuntimeError(f"Mismatch in shape: grad_output[{index}] has a shape of "
                           f"torch.Size({size(gradient.array.shape)}) and output[{index}] has a shape of "
                           f"torch.Size({size(tensor.array.shape)}).")
    return gradient.array.astype(tensor.array.dtype, copy=False)


# ----- .grad, .requires_grad -----
def warn_non_leaf_grad():
    warnings.warn("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                  "attribute won't be populated during autograd.backward(). If you indeed want the .grad field "
                  "to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor.",
                  UserWarning, stacklevel=3)


def check_grad_assignment(tensor, grad):
    if grad is None:
        return None
    if not hasattr(grad, "grad_fn"):
        raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(grad).__name__}")
    if grad.array.shape != tensor.array.shape:
        raise RuntimeError(f"attempting to assign a gradient of size '{size(grad.array.shape)}' to a tensor of "
                           f"size '{size(tensor.array.shape)}'. Please ensure that the gradient and the tensor are "
                           f"the same size")
    if grad.array.dtype != tensor.array.dtype:
        raise RuntimeError(f"attempting to assign a gradient with dtype '{grad.dtype}' to a tensor with dtype "
                           f"'{tensor.dtype}'. The gradient must match the tensor's dtype.")
    return grad


def check_requires_grad(tensor, flag):
    if tensor.grad_fn is not None and not flag:
        raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                           "computed variable in a subgraph that doesn't require differentiation use "
                           "var_no_grad = var.detach().")
    if flag and tensor.array.dtype.kind != "f":
        raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")


# ----- in-place operations -----
def check_inplace(tensor, grad_enabled):
    """An in-place change is refused on a leaf that requires grad (or a view of one) while grad mode is on."""
    if not grad_enabled:
        return
    base = tensor._base
    if tensor.grad_fn is None and tensor.requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if base is not None and base.requires_grad:
        if base.grad_fn is None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
        raise not_implemented("an in-place change of a view of a tensor that requires grad (PyTorch's CopySlices)",
                              "change a clone() instead, or work out of place")


def check_inplace_dtype(result_dtype, tensor):
    if np.dtype(result_dtype) != tensor.array.dtype and not np.can_cast(result_dtype, tensor.array.dtype, "same_kind"):
        raise RuntimeError(f"result type {to_torch_dtype(np.dtype(result_dtype)).type_name} can't be cast to the "
                           f"desired output type {to_torch_dtype(tensor.array.dtype).type_name}")


# ----- shapes and dtypes of operands -----
def broadcast(ufunc, x, y):
    """ufunc(x, y) on numpy arrays, with PyTorch's error when their shapes do not broadcast."""
    try:
        return ufunc(x, y)
    except ValueError:
        raise broadcast_error(x.shape, y.shape) from None


def broadcast_error(x, y):
    """RuntimeError naming the first dimension (from the right) where shapes x and y cannot broadcast."""
    for i in range(1, min(len(x), len(y)) + 1):
        if x[-i] != y[-i] and 1 not in (x[-i], y[-i]):
            return RuntimeError(f"The size of tensor a ({x[-i]}) must match the size of tensor b ({y[-i]}) "
                                f"at non-singleton dimension {max(len(x), len(y)) - i}")
    return RuntimeError(f"shapes {size(x)} and {size(y)} cannot be broadcast together")


def check_matmul(x, y):
    if x.ndim == 0 or y.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {x.ndim}D and {y.ndim}D")
    if x.dtype != y.dtype:
        names = {"Float": "float", "Double": "double", "Long": "long", "Int": "int", "Half": "c10::Half"}
        a, b = (to_torch_dtype(d).type_name for d in (x.dtype, y.dtype))
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{names.get(a, a)} != {names.get(b, b)}")
    k = y.shape[-2] if y.ndim > 1 else y.shape[0]
    if x.shape[-1] != k:
        if x.ndim == 1 and y.ndim == 1:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{x.shape[0]}] and src [{y.shape[0]}] "
                               f"to have the same number of elements, but got {x.shape[0]} and {y.shape[0]} "
                               f"elements respectively")
        rows = lambda a: a.shape[0] if a.ndim <= 2 else int(np.prod(a.shape[:-1]))
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows(x) if x.ndim > 1 else 1}x{x.shape[-1]} "
                           f"and {k}x{y.shape[-1] if y.ndim > 1 else 1})")


def _is_bool(value):
    return isinstance(value, (bool, np.bool_)) or getattr(getattr(value, "array", None), "dtype", None) == np.bool_


def _kind(value):
    """numpy's kind letter of a tensor's dtype, or of what a Python number becomes."""
    if hasattr(value, "grad_fn"):
        return value.array.dtype.kind
    return "b" if isinstance(value, (bool, np.bool_)) else "i" if isinstance(value, (int, np.integer)) else "f"


def check_power(base, exponent):
    """base ** exponent (tensors or numbers): PyTorch has no pow for two bools, except a bool tensor to a
    Python bool; no integer to a negative integer power."""
    base_kind, exponent_kind = _kind(base), _kind(exponent)
    if base_kind == "f" or exponent_kind == "f":
        return
    if base_kind == "b" and exponent_kind == "b" and hasattr(exponent, "grad_fn"):
        raise NotImplementedError('"pow" not implemented for \'Bool\'')
    if exponent_kind in "iu" and np.any(np.asarray(getattr(exponent, "array", exponent)) < 0):
        raise RuntimeError("Integers to negative integer powers are not allowed.")


def check_subtraction(a, b):
    """PyTorch refuses - with a bool operand (tensor or Python bool)."""
    bools = [_is_bool(a), _is_bool(b)]
    if all(bools):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                           "`logical_xor()` operator instead.")
    if any(bools):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")


def check_not_bool(array, error, message):
    if array.dtype == np.bool_:
        raise error(message)


def check_floating(array, kernel):
    if array.dtype.kind != "f":
        raise NotImplementedError(f'"{kernel}" not implemented for \'{to_torch_dtype(array.dtype).type_name}\'')


def check_mean_dtype(array, name="mean"):
    if array.dtype.kind != "f":
        raise RuntimeError(f"{name}(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {to_torch_dtype(array.dtype).type_name}")
