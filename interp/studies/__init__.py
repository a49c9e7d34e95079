"""Studies that use the interp package (runnable with ``python -m interp.studies.<name>``)."""
