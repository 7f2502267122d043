"""nnlab: neural-network gradients, by hand and by machine.

The helper package of the course. Each module is one idea of the lessons:

- ``nnlab.gradcheck``   numerical Jacobians and gradients, ``rel_error``, readable ``check`` reports
- ``nnlab.chainrule``   the composition f: R -> R^2, g: R^2 -> R^2 of lesson 01
- ``nnlab.identities``  the seven matrix-calculus identities, reference forms
- ``nnlab.functional``  relu, stable softmax and cross-entropy (column and batch)
- ``nnlab.onelayer``    the one-layer ReLU + softmax + cross-entropy network, forward and backward
- ``nnlab.layers``      affine, batch norm and dropout layers for lesson 06
- ``nnlab.regression``  gradient descent on linear regression
- ``nnlab.minitorch``   a small reverse-mode autodiff engine with PyTorch's names
- ``nnlab.feedback``    exercise checks that name the mistake
- ``nnlab.widgets``     the gradient-descent explorer and the training playground
- ``nnlab.grading``     the ``nnlab`` command over nbgrader

Modules are imported on demand (``from nnlab.identities import dJ_dW_Wx``), so importing
``nnlab`` stays cheap and the math core never pulls in Jupyter.
"""

__version__ = "0.1.0"
