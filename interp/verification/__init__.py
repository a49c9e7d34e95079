"""Stage 6, verification: scoring model-reported errors in manuscripts against annotations.

Modules
-------
spot
    Precision and recall of reported against annotated findings, matched by
    location or by a judge, across repeated runs.
"""
