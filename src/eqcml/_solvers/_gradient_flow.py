"""An inner solver that integrates the gradient flow with diffrax."""

from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PyTree, Scalar

from .._solution import InnerSolution
from ..internal import tree_norm
from ._base import AbstractInnerSolver, check_tolerances, final_result, tolerance


class GradientFlowSolver(AbstractInnerSolver):
    r"""Minimise the inner loss by integrating $d\phi/dt = -\nabla_\phi L(\phi)$.

    The flow is integrated with a diffrax solver until a steady-state event fires,
    that is until $\|\nabla_\phi L\| \le$ `atol + rtol * initial_gradient_norm`, or
    until `max_steps` integrator steps or the time horizon `t1` are exhausted. The
    default adaptive Runge-Kutta integrator needs no learning rate. Stiff
    (ill-conditioned) problems take many steps, and an [`eqcml.OptaxSolver`][] with
    L-BFGS or a tuned optimiser is then faster.

    **Arguments:**

    - `max_steps`: the maximum number of integrator steps.
    - `atol`, `rtol`: tolerances on the gradient norm that define the steady state.
        They must not both be zero, or no steady state can be detected.
    - `t1`: the time horizon of the flow.
    - `dt0`: the initial step size.
    - `solver`: any diffrax ODE solver.
    - `stepsize_controller`: any diffrax step size controller. The default is a
        `diffrax.PIDController` with `rtol=0` and `atol` a thousandth of the
        gradient threshold. Its tolerances must lie well below the gradient
        threshold: near the steady state an explicit integrator's step size sits at
        its stability limit, and the residual gradient it leaves grows with the
        integrator's local error tolerance (measured here: about 100 to 600 times
        the controller's `atol` on small quadratics with `diffrax.Tsit5`).
    """

    max_steps: int = eqx.field(default=4096, static=True)
    atol: float = eqx.field(default=1e-6, static=True)
    rtol: float = eqx.field(default=1e-6, static=True)
    t1: float = eqx.field(default=1e6, static=True)
    dt0: float = eqx.field(default=1e-2, static=True)
    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    stepsize_controller: diffrax.AbstractStepSizeController | None = None

    def __check_init__(self):
        check_tolerances(self)
        if self.max_steps < 1:
            raise ValueError(
                "`max_steps` must be at least 1 for `GradientFlowSolver`, got "
                f"{self.max_steps}; diffrax needs one step to save the solution."
            )
        if self.atol == 0 and self.rtol == 0:
            raise ValueError(
                "`atol` and `rtol` are both zero, so the gradient flow never reaches "
                "a steady state; set at least one of them to a positive value."
            )
        if not (0 < self.dt0 and 0 < self.t1 < float("inf")):
            raise ValueError(
                f"`dt0` and `t1` must be positive and finite, got dt0={self.dt0!r}, "
                f"t1={self.t1!r}."
            )

    def solve(self, loss_fn: Callable[[PyTree], Scalar], fast: PyTree) -> InnerSolution:
        grad_fn = jax.grad(loss_fn)
        threshold = tolerance(self, tree_norm(grad_fn(fast)))

        def vector_field(t, y, args):
            del t, args
            return jax.tree_util.tree_map(jnp.negative, grad_fn(y))

        def steady_state(t, y, args, **kwargs):
            del t, args, kwargs
            return tree_norm(grad_fn(y)) <= threshold

        # diffrax promotes the state to the dtype of the times, so times take the
        # parameters' precision (float32 stays float32). Half-precision times would
        # overflow at the default horizon, so they are at least float32 and the
        # solution is cast back at the end.
        param_dtype = jnp.result_type(*jax.tree_util.tree_leaves(fast))
        time_dtype = jnp.promote_types(param_dtype, jnp.float32)
        controller = self.stepsize_controller
        if controller is None:
            controller = diffrax.PIDController(rtol=0.0, atol=1e-3 * threshold)
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(vector_field),
            self.solver,
            t0=jnp.zeros((), time_dtype),
            t1=jnp.asarray(self.t1, time_dtype),
            dt0=jnp.asarray(self.dt0, time_dtype),
            y0=fast,
            stepsize_controller=controller,
            event=diffrax.Event(steady_state),
            max_steps=self.max_steps,
            saveat=diffrax.SaveAt(t1=True),
            throw=False,
        )
        fast = jax.tree_util.tree_map(
            lambda y, y0: y[-1].astype(y0.dtype), solution.ys, fast
        )
        loss, grad = jax.value_and_grad(loss_fn)(fast)
        grad_norm = tree_norm(grad)
        steps = solution.stats["num_steps"]
        result = final_result(fast, loss, grad_norm, grad_norm <= threshold)
        return InnerSolution(fast, steps, grad_norm, loss, result)
