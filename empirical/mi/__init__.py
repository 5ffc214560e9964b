"""Mutual-information and entropy estimators (nats), validated against closed forms before use on models.

Submodules (imported on use; this package file stays import-light):

- :mod:`.gaussian` — Gaussian / canonical-correlation MI with the exact Wishart bias correction (shrinkage
  only where the sample covariance is singular);
- :mod:`.ksg` — Kraskov-Stögbauer-Grassberger (2004) algorithm 1, max-norm, KD-tree or blocked brute force;
- :mod:`.infonce` — InfoNCE lower bound with a small torch critic, capped at log(batch size);
- :mod:`.entropy` — Kozachenko-Leonenko differential entropy and the Gaussian plug-in entropy;
- :mod:`.samples` — input checks and the correlated-Gaussian test pairs with closed-form MI;
- :mod:`.validate` — the validation suite (a tidy DataFrame of bias and spread per estimator and task);
- :mod:`.validate_bounds` — I1/I2/I3 and the estimators on planted Gaussian teacher/student pairs with known MI;
- :mod:`.bench` — the KSG speed benchmark against scikit-learn's ``mutual_info_regression``;
- :mod:`.cloning` — teacher/student activation MI for Low-Rank Clone students, with the I1/I2/I3 bounds.
"""
