"""Counter-free, per-trajectory random numbers for numba kernels.

Each trajectory owns a xoshiro256** generator (four 64-bit words) seeded by
SplitMix64 from the user's seed and the trajectory index, so an ensemble gives the
same numbers whatever the number of threads. Normal deviates come from a
256-layer ziggurat (Marsaglia and Tsang, 2000) built at import time.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
_S5 = _U64(5)
_S7 = _U64(7)
_S9 = _U64(9)
_S11 = _U64(11)
_S17 = _U64(17)
_S27 = _U64(27)
_S30 = _U64(30)
_S31 = _U64(31)
_S45 = _U64(45)
_S57 = _U64(57)
_S64 = _U64(64)
_BYTE = _U64(0xFF)
_BIT8 = _U64(0x100)
_TWO_M53 = 1.0 / 9007199254740992.0

_LAYERS = 256
_TAIL_START = 3.6541528853610088
_LAYER_AREA = 0.00492867323399


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray]:
    """Layer edges x_i and f(x_i) = exp(-x_i^2 / 2) of the normal ziggurat."""
    f = lambda x: math.exp(-0.5 * x * x)  # noqa: E731
    edges = np.zeros(_LAYERS + 1)
    edges[0] = _LAYER_AREA / f(_TAIL_START)
    edges[1] = _TAIL_START
    for i in range(1, _LAYERS - 1):
        edges[i + 1] = math.sqrt(-2.0 * math.log(_LAYER_AREA / edges[i] + f(edges[i])))
    edges[_LAYERS] = 0.0
    heights = np.exp(-0.5 * edges**2)
    return edges, heights


ZIGGURAT_EDGES, ZIGGURAT_HEIGHTS = _ziggurat_tables()


@numba.njit(inline="always")
def _rotl(x, k):
    return (x << k) | (x >> (_S64 - k))


@numba.njit(cache=True)
def splitmix64(state):
    """One SplitMix64 output for a uint64 state (used only for seeding)."""
    z = state + _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@numba.njit(cache=True)
def seed_states(seed, first_index, count):
    """xoshiro256** states for trajectories ``first_index .. first_index + count - 1``.

    Parameters
    ----------
    seed : uint64
        User seed.
    first_index : int
        Global index of the first trajectory.
    count : int
        Number of states.

    Returns
    -------
    ndarray of uint64, shape (count, 4)
    """
    states = np.empty((count, 4), dtype=np.uint64)
    base = splitmix64(_U64(seed))
    for j in range(count):
        z = base ^ splitmix64(_U64(first_index + j) * _GOLDEN)
        for w in range(4):
            z = splitmix64(z + _U64(w))
            states[j, w] = z
        if states[j, 0] == 0 and states[j, 1] == 0 and states[j, 2] == 0 and states[j, 3] == 0:
            states[j, 0] = _GOLDEN
    return states


@numba.njit(inline="always")
def next_u64(s0, s1, s2, s3):
    """Advance a xoshiro256** state held in four local uint64 words.

    Returns
    -------
    tuple
        ``(bits, s0, s1, s2, s3)``: 64 random bits and the new state. Keeping the
        state in locals (not an array) lets the compiler hold it in registers.
    """
    bits = _rotl(s1 * _S5, _S7) * _S9
    t = s1 << _S17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, _S45)
    return bits, s0, s1, s2, s3


@numba.njit(inline="always")
def next_uniform(s0, s1, s2, s3):
    """Uniform double in [0, 1) from the top 53 bits; returns ``(u, s0, s1, s2, s3)``."""
    bits, s0, s1, s2, s3 = next_u64(s0, s1, s2, s3)
    return (bits >> _S11) * _TWO_M53, s0, s1, s2, s3


@numba.njit(cache=True)
def _normal_slow(bits, s0, s1, s2, s3, edges, heights):
    """Ziggurat rejection branch (about 1.2 % of draws): tail or wedge, then retry."""
    while True:
        layer = np.int64(bits & _BYTE)
        negative = (bits & _BIT8) != 0
        x = (bits >> _S11) * _TWO_M53 * edges[layer]
        if x < edges[layer + 1]:
            return (-x if negative else x), s0, s1, s2, s3
        if layer == 0:
            while True:
                u1, s0, s1, s2, s3 = next_uniform(s0, s1, s2, s3)
                u2, s0, s1, s2, s3 = next_uniform(s0, s1, s2, s3)
                a = -math.log(1.0 - u1) / _TAIL_START
                b = -math.log(1.0 - u2)
                if 2.0 * b > a * a:
                    x = _TAIL_START + a
                    return (-x if negative else x), s0, s1, s2, s3
        u, s0, s1, s2, s3 = next_uniform(s0, s1, s2, s3)
        y = heights[layer] + u * (heights[layer + 1] - heights[layer])
        if y < math.exp(-0.5 * x * x):
            return (-x if negative else x), s0, s1, s2, s3
        bits, s0, s1, s2, s3 = next_u64(s0, s1, s2, s3)


@numba.njit(inline="always")
def next_normal(s0, s1, s2, s3, edges, heights):
    """Standard normal deviate by the ziggurat method.

    Parameters
    ----------
    s0, s1, s2, s3 : uint64
        Generator state.
    edges, heights : ndarray
        :data:`ZIGGURAT_EDGES` and :data:`ZIGGURAT_HEIGHTS`.

    Returns
    -------
    tuple
        ``(z, s0, s1, s2, s3)``: the deviate and the new state.
    """
    bits, s0, s1, s2, s3 = next_u64(s0, s1, s2, s3)
    layer = np.int64(bits & _BYTE)
    x = (bits >> _S11) * _TWO_M53 * edges[layer]
    if x < edges[layer + 1]:
        if bits & _BIT8:
            x = -x
        return x, s0, s1, s2, s3
    return _normal_slow(bits, s0, s1, s2, s3, edges, heights)


@numba.njit(cache=True)
def _normal_samples(seed, count):
    state = seed_states(seed, 0, 1)[0]
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    out = np.empty(count)
    for i in range(count):
        out[i], s0, s1, s2, s3 = next_normal(s0, s1, s2, s3, ZIGGURAT_EDGES, ZIGGURAT_HEIGHTS)
    return out


def normal_samples(seed: int, count: int) -> np.ndarray:
    """Draw ``count`` standard normal deviates from the kernel generator (for tests).

    Parameters
    ----------
    seed : int
        Seed.
    count : int
        Number of deviates.

    Returns
    -------
    ndarray, shape (count,)
    """
    return _normal_samples(np.uint64(seed), count)
