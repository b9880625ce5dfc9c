"""The T1-T2 estimator: implicit differentiation with the inverse Hessian replaced by
a multiple of the identity."""

import equinox as eqx
from jaxtyping import ArrayLike

from .._results import RESULTS
from .._solvers import AbstractInnerSolver, default_solver
from ._implicit import AbstractImplicitEstimator, scale_tree
from ._neumann import check_step_size


class T1T2(AbstractImplicitEstimator):
    r"""The T1-T2 meta-gradient: the implicit formula with $H^{-1} \approx \alpha I$.

    After the first phase gives $\hat\phi$, the estimate is

    $\partial_\theta L^\text{eval} - \alpha\,\partial_\phi L^\text{eval}\,
    \partial_\phi\partial_\theta L^\text{learn}$,

    at $(\hat\phi, \theta)$: first derivatives and one cross-derivative vector
    product, no Hessian-vector products. It is biased whenever the Hessian of the
    learning loss is not $\alpha^{-1} I$. The default $\alpha = 1$ is the identity;
    Luketina, Berglund, Greff and Raiko ("Scalable gradient-based tuning of
    continuous regularization hyperparameters", ICML 2016) derive the estimate
    from one unrolled step of gradient descent, which gives $\alpha$ equal to the
    inner learning rate. It equals [`eqcml.Neumann`][] with one step.

    **Arguments:**

    - `solver`: the inner solver of the first phase.
    - `alpha`: the multiple of the identity that replaces the inverse Hessian.
    """

    solver: AbstractInnerSolver = eqx.field(default_factory=default_solver)
    alpha: ArrayLike = 1.0

    def __check_init__(self):
        check_step_size(self.alpha)

    def solve_adjoint(self, hvp, eval_grad):
        del hvp
        return scale_tree(self.alpha, eval_grad), RESULTS.successful, {}
