"""Status codes shared by the inner solvers and the meta-gradient estimators."""

import equinox as eqx


class RESULTS(eqx.Enumeration):
    """Outcome of an inner solve or a meta-gradient computation.

    `max_steps_reached` and `linear_solve_failed` do not raise, even with
    `throw=True`: fixed step budgets are the usual way to run these methods, so
    stopping short of a tolerance is reported in the status and left to the caller.
    `nonfinite` and `nudge_below_tolerance` mean the meta-gradient is not
    informative, and raise when `throw=True`.
    """

    successful = ""
    max_steps_reached = (
        "The inner solver used up its budget (`max_steps`, or the time horizon `t1` of "
        "the gradient flow) before its gradient norm met the tolerance "
        "`atol + rtol * initial_gradient_norm`."
    )
    nonfinite = (
        "A non-finite value (NaN or infinity) appeared in the iterates, the losses, a "
        "linear solve or the meta-gradient. Common causes: a diverging inner solver "
        "(lower its learning rate), a large beta in the symmetric estimate's -beta "
        "phase, a singular Hessian, non-finite slow parameters, or a loss that is "
        "already NaN at the start (for example on an empty data split)."
    )
    nudge_below_tolerance = (
        "A nudged phase started within its solver's tolerance and took no step, so the "
        "contrastive estimate carries no information about the meta-gradient. Raise "
        "beta, or lower the nudged solver's `atol` below beta times the norm of the "
        "evaluation loss's gradient (a relative `rtol` scales with beta by itself)."
    )
    linear_solve_failed = (
        "The linear solve of the second phase did not converge within its step budget."
    )
