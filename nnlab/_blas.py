"""One BLAS thread while training on small matrices (used by onelayer.train and layers.train_mlp)."""
import contextlib


def one_blas_thread():
    """Context limiting BLAS to one thread: for these matrix sizes the hand-off between
    threads costs more than it saves (a no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
