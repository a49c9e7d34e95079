"""md_setups package."""
