"""Grad mode: whether operations record the graph. ``no_grad()`` switches it off, for update steps."""
import functools

enabled = True


def is_grad_enabled():
    """True unless inside ``no_grad()`` (or ``set_grad_enabled(False)``)."""
    return enabled


class set_grad_enabled:
    """Context manager (and plain call) that sets grad mode; the previous mode comes back on exit."""

    def __init__(self, mode):
        global enabled
        self.previous, enabled = enabled, bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        global enabled
        enabled = self.previous


class _GradModeContext:
    mode = None

    def __enter__(self):
        global enabled
        self.previous, enabled = enabled, self.mode

    def __exit__(self, *exc_info):
        global enabled
        enabled = self.previous

    def __call__(self, function):
        """Also a decorator: @no_grad() runs the whole function in this mode."""
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            with type(self)():
                return function(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Operations inside ``with no_grad():`` build no graph (for gradient-descent update steps)."""
    mode = False


class enable_grad(_GradModeContext):
    """Switches recording back on inside a ``no_grad()`` block."""
    mode = True
