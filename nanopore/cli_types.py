"""Command-line value types with units: voltages in V or mV, N ranges.

A voltage given as ``0.5``, ``0.5V``, ``0.5 V``, ``500mV`` or ``500 mV`` is read
in volts (0.5 V); any other unit is refused with a message naming the accepted
ones, never read as volts.
"""

from __future__ import annotations

import math
import re

import click

_VOLTAGE = re.compile(r"^\s*(?P<value>[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*(?P<unit>[A-Za-zµμ]*)\s*$")
_VOLT_UNITS = {"": 1.0, "V": 1.0, "mV": 1e-3, "uV": 1e-6, "µV": 1e-6, "μV": 1e-6, "kV": 1e3}


def parse_voltage(text: str) -> float:
    """A voltage in volts from text with an optional unit.

    Parameters
    ----------
    text : str
        A number, optionally followed by V, mV, uV or kV (``500 mV``).

    Returns
    -------
    float
        Volts.

    Raises
    ------
    ValueError
        Text that is not a number with one of those units.
    """
    match = _VOLTAGE.match(str(text))
    if match is None:
        raise ValueError(f"'{text}' is not a voltage: give a number in V, or with a unit "
                         "(0.5, 0.5V, 500mV)")
    unit = match["unit"]
    if unit not in _VOLT_UNITS:
        lower = {key.lower(): key for key in _VOLT_UNITS if key}
        hint = f" (did you mean {lower[unit.lower()]}?)" if unit.lower() in lower else ""
        raise ValueError(f"'{text}': unknown voltage unit '{unit}'{hint}; use V or mV")
    value = float(match["value"]) * _VOLT_UNITS[unit]
    if not math.isfinite(value):
        raise ValueError(f"'{text}' is not a finite voltage")
    return value


def parse_voltages(text: str) -> list[float]:
    """Comma-separated voltages, each with an optional unit (see :func:`parse_voltage`)."""
    items = [item for item in str(text).split(",") if item.strip()]
    if not items:
        raise ValueError("expected at least one voltage")
    return [parse_voltage(item) for item in items]


class Voltage(click.ParamType):
    """A click option value in volts that accepts V and mV units."""

    name = "voltage"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_voltage(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)


class NumberRange(click.ParamType):
    """``LO,HI``: two numbers, LO < HI."""

    name = "lo,hi"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        parts = [part for part in str(value).split(",") if part.strip()]
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            numbers = []
        if len(numbers) != 2 or not all(math.isfinite(v) for v in numbers):
            self.fail(f"expected two numbers LO,HI, got '{value}'", param, ctx)
        if not numbers[1] > numbers[0]:
            self.fail(f"LO must be below HI, got '{value}'", param, ctx)
        return (numbers[0], numbers[1])


VOLTAGE = Voltage()
