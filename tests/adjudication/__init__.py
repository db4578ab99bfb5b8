"""Tests of the pure-Python review process (``adjudication``)."""
