from ._base import AbstractInnerSolver as AbstractInnerSolver
from ._gradient_flow import GradientFlowSolver as GradientFlowSolver
from ._optax import default_solver as default_solver, OptaxSolver as OptaxSolver
