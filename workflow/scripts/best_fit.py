"""Print the path of the best fit (highest Gamma) among the fit JSONs given as arguments
(snnfit.study.best_fit_path); used by rule trace."""

import sys

from snnfit.study import best_fit_path

print(best_fit_path(sys.argv[1:]))
