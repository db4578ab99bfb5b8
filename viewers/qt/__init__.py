"""Qt widgets that show the models of :mod:`viewers`; the only place here that imports Qt."""
