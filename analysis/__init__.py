"""Free-energy profiles and diffusion of the pore water count from restrained runs.

Windows (restrained simulations of the water count N, from this toolkit's MD stage
or any other engine) go in; the profile dataset of :mod:`nanopore.profile` comes
out: Omega(N) in kT with a bootstrap error, and D(N) in molecules^2/ps, per voltage.

Modules, one job each:

* :mod:`analysis.readers` -- window files, WHAM metadata files, PLUMED COLVAR files
  into :class:`nanopore.windows.Window` objects;
* :mod:`analysis.trajectory` -- N(t), density, occupancy and accessible radius from
  any trajectory (MDAnalysis);
* :mod:`analysis.decorrelation` -- equilibration detection and subsampling;
* :mod:`analysis.data` -- the umbrella data set the estimators share;
* :mod:`analysis.wham`, :mod:`analysis.mbar`, :mod:`analysis.umbrella_integration`
  -- interchangeable free-energy estimators (``fit(data) -> FreeEnergyEstimate``);
* :mod:`analysis.bootstrap`, :mod:`analysis.overlap`, :mod:`analysis.convergence`
  -- uncertainties and diagnostics;
* :mod:`analysis.diffusion` -- Hummer's position-dependent diffusion;
* :mod:`analysis.fes` -- the driver producing the profile dataset;
* :mod:`analysis.synthetic` -- umbrella data from known profiles, for tests;
* :mod:`analysis.plots`, :mod:`analysis.cli` -- figures and ``nanopore fes`` / ``nanopore cv``.
"""
