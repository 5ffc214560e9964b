"""Figures that overlay measured curves on the theoretical ones: one module per figure, one shared style.

Each figure module exposes ``compute(...) -> pandas.DataFrame`` (the exact data drawn) and
``plot(df) -> matplotlib.figure.Figure``. Nothing measures inside a plotting function.
"""
