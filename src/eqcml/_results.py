"""Status codes shared by the inner solvers and the meta-gradient estimators."""

import equinox as eqx


class RESULTS(eqx.Enumeration):
    """Outcome of an inner solve or a meta-gradient computation.

    `max_steps_reached` and `linear_solve_failed` do not raise, even with
    `throw=True`: fixed step budgets are the usual way to run these methods, so
    stopping short of a tolerance is reported in the status and left to the caller.
    Non-finite values always raise when `throw=True`.
    """

    successful = ""
    max_steps_reached = (
        "The inner solver stopped at `max_steps` before its gradient norm met the "
        "tolerance `atol + rtol * initial_gradient_norm`."
    )
    nonfinite = (
        "A non-finite value (NaN or infinity) appeared in the iterates, the losses or "
        "the meta-gradient. Lower the learning rate or beta, or check the losses."
    )
    linear_solve_failed = (
        "The linear solve of the second phase did not converge within its step budget."
    )
