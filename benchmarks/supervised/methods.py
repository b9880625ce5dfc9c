"""The meta-gradient methods compared, each an eqcml estimator built from one
sample of hyperparameters."""

from typing import Any

import optax

import eqcml

from .config import METHODS


def inner_optimizer(name: str, learning_rate) -> optax.GradientTransformation:
    """Build the optimiser of an inner phase: "adam", "sgd" or "sgd_nesterov_0.9"."""
    if name == "adam":
        return optax.adam(learning_rate)
    if name == "sgd":
        return optax.sgd(learning_rate)
    if name == "sgd_nesterov_0.9":
        return optax.sgd(learning_rate, momentum=0.9, nesterov=True)
    raise ValueError(
        f"Unknown inner optimiser {name!r}; expected 'adam', 'sgd' or "
        "'sgd_nesterov_0.9'."
    )


# Hyperparameters passed into the compiled meta-step as traced arrays, so trying
# another learning rate or beta reuses the compiled computation. All others (step
# budgets, optimiser names) are static and change the computation.
TRACED_HYPERPARAMETERS = (
    "beta",
    "lambda_init",
    "lr_inner",
    "lr_nudged",
    "lr_outer",
    "nsa_alpha",
)


def split_hyperparameters(
    hyperparameters: dict[str, Any],
) -> tuple[tuple[tuple[str, Any], ...], dict[str, float]]:
    """Split a sample into static settings, as a hashable tuple of pairs, and the
    floats of `TRACED_HYPERPARAMETERS`."""
    static, dynamic = [], {}
    for name, value in sorted(hyperparameters.items()):
        if name in TRACED_HYPERPARAMETERS:
            dynamic[name] = float(value)
        elif isinstance(value, (int, str)) and not isinstance(value, bool):
            static.append((name, value))
        else:
            raise TypeError(
                f"Hyperparameter {name!r} must be an int or a string, got {value!r}."
            )
    return tuple(static), dynamic


def free_solver(static: dict[str, Any], dynamic: dict[str, Any]) -> eqcml.OptaxSolver:
    """Build the first-phase solver: `steps_inner` steps of `optimizer_inner` at
    `lr_inner`."""
    # NOTE: every inner step is a full-batch step on the learn set. The published
    # runs used mini-batches of 500 examples, which an eqcml inner solver, which
    # minimises one fixed loss, does not provide.
    optimizer = inner_optimizer(static["optimizer_inner"], dynamic["lr_inner"])
    return eqcml.OptaxSolver(optimizer, static["steps_inner"])


def build_estimator(
    method: str, static: dict[str, Any], dynamic: dict[str, Any]
) -> eqcml.AbstractEstimator:
    """Build the estimator of `method` for one hyperparameter sample.

    - "cml": [`eqcml.Contrastive`][] (forward estimate), with a nudged phase of
        `steps_nudged` steps at `lr_nudged` with the free phase's optimiser type.
    - "t1t2": `eqcml.T1T2` with the inverse Hessian replaced by `lr_inner` times
        the identity, the choice of Luketina et al. (ICML 2016).
    - "cg": `eqcml.ConjugateGradient` running exactly `steps_cg` steps.
    - "rbp": recurrent backpropagation, `eqcml.Neumann` with step size `nsa_alpha`
        and `steps_nsa` terms.
    """
    solver = free_solver(static, dynamic)
    if method == "cml":
        nudged = eqcml.OptaxSolver(
            inner_optimizer(static["optimizer_inner"], dynamic["lr_nudged"]),
            static["steps_nudged"],
        )
        return eqcml.Contrastive(dynamic["beta"], solver=solver, nudged_solver=nudged)
    if method == "t1t2":
        return eqcml.T1T2(solver=solver, alpha=dynamic["lr_inner"])
    if method == "cg":
        return eqcml.ConjugateGradient(
            solver=solver, max_steps=static["steps_cg"], rtol=0.0, atol=0.0
        )
    if method == "rbp":
        return eqcml.Neumann(
            dynamic["nsa_alpha"], steps=static["steps_nsa"], solver=solver
        )
    raise ValueError(f"Unknown method {method!r}; expected one of {METHODS}.")
