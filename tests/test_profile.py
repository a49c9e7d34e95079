import numpy as np
import pytest
import xarray as xr

from nanopore.profile import (
    ProfileError,
    load_profile,
    make_profile,
    save_profile,
    select_voltage,
    write_dataset,
)


def _good(**changes):
    n = np.linspace(0, 10, 11)
    ds = make_profile(n, (n - 5) ** 2 / 5, 1.0, 300.0, producer="test")
    for key, value in changes.items():
        ds[key] = value
    return ds


def test_round_trip_keeps_values_units_and_provenance(tmp_path, model_profile):
    path = save_profile(model_profile, tmp_path / "p.nc")
    loaded = load_profile(path)
    np.testing.assert_array_equal(loaded.free_energy.values, model_profile.free_energy.values)
    assert loaded.free_energy.attrs["units"] == "kT"
    assert loaded.diffusion.attrs["units"] == "molecules^2/ps"
    assert loaded.voltage.attrs["units"] == "V"
    assert loaded.attrs["temperature"] == 300.0
    assert "model_pore_profile" in loaded.attrs["producer"]
    assert loaded.free_energy.dims == ("voltage", "n")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda ds: ds.drop_vars("diffusion"), "missing variable 'diffusion'"),
        (lambda ds: ds.drop_vars("free_energy"), "missing variable 'free_energy'"),
        (lambda ds: ds.assign_coords(n=ds.n.values[::-1]), "not strictly increasing"),
        (lambda ds: ds.assign_coords(n=np.where(np.arange(ds.n.size) == 3, ds.n.values[2], ds.n.values)),
         r"not strictly increasing \(at index 2: (\S+) then \1\); sort the profile by n and drop duplicates"),
        (lambda ds: ds.assign(free_energy_replicates=(("n", "replicate"), np.zeros((ds.n.size, 3)))),
         "free_energy_replicates' has dimensions"),
        (lambda ds: ds.assign(free_energy=ds.free_energy.where(ds.n != 3)), "NaN or infinite"),
        (lambda ds: ds.assign(free_energy=ds.free_energy + np.where(ds.n == 4, np.inf, 0)), "NaN or infinite"),
        (lambda ds: ds.assign(diffusion=ds.diffusion * 0), "must be positive"),
        (lambda ds: ds.assign(diffusion=-ds.diffusion), "must be positive"),
        (lambda ds: ds.drop_attrs(deep=False), "no 'temperature'"),
    ],
)
def test_malformed_profiles_are_refused_on_load(tmp_path, mutate, message):
    bad = mutate(_good())
    path = write_dataset(bad, tmp_path / "bad.nc")
    with pytest.raises(ProfileError, match=message):
        load_profile(path)


def test_wrong_units_refused():
    ds = _good()
    ds.free_energy.attrs["units"] = "kJ/mol"
    with pytest.raises(ProfileError, match="kT"):
        from nanopore.profile import validate_profile

        validate_profile(ds)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_profile(tmp_path / "absent.nc")
    junk = tmp_path / "junk.nc"
    junk.write_text("not a netCDF file")
    with pytest.raises(ProfileError, match="not a readable"):
        load_profile(junk)


def test_failed_write_leaves_previous_file_intact(tmp_path, model_profile):
    path = save_profile(model_profile, tmp_path / "p.nc")
    before = path.read_bytes()
    broken = model_profile.copy()
    broken.attrs["bad"] = object()  # not serialisable
    with pytest.raises(Exception):
        write_dataset(broken, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["p.nc"]


def test_select_voltage(model_profile):
    one = select_voltage(model_profile, 0.25)
    assert one.free_energy.dims == ("n",)
    assert one.attrs["voltage"] == 0.25
    with pytest.raises(ProfileError, match="not in the profile"):
        select_voltage(model_profile, 0.3)
    assert isinstance(one, xr.Dataset)
