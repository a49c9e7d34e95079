"""Wetting and drying rates against voltage on a log scale, several datasets compared.

Input: rates datasets from ``nanopore rates ... -o rates.nc``, for example the exact
integral and Kramers' formula on the same profile. Langevin rates are drawn with
their standard errors.

    python examples/rates_vs_voltage.py exact.nc kramers.nc -o rates.pdf
"""

from __future__ import annotations

from _paper import figure, model_label, open_dataset, parser, save

STYLES = ["-", "--", ":", "-."]


def main(argv: list[str] | None = None) -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("rates", nargs="+", help="rates datasets (.nc) from nanopore rates")
    p.add_argument("--label", action="append", help="legend label per dataset, in order")
    args = p.parse_args(argv)
    if args.label and len(args.label) != len(args.rates):
        raise SystemExit("give one --label per rates dataset")

    fig, ax = figure()
    for k, path in enumerate(args.rates):
        ds = open_dataset(path, ["k_wet", "k_dry"])
        if "voltage" not in ds.dims:
            raise SystemExit(f"{path}: rates at one voltage; compute them at several (--voltages)")
        name = args.label[k] if args.label else model_label(ds, path)
        v = ds["voltage"].values
        for var, colour, what in (("k_wet", "tab:blue", "wet"), ("k_dry", "tab:red", "dry")):
            error = ds.get(f"{var}_error")
            style = STYLES[k % len(STYLES)]
            if error is not None:
                ax.errorbar(v, ds[var], yerr=error, fmt="o", ls=style, color=colour,
                            capsize=1.5, label=f"$k_{{{what}}}$ ({name})")
            else:
                ax.plot(v, ds[var], marker="o", ls=style, color=colour,
                        label=f"$k_{{{what}}}$ ({name})")
    ax.set_yscale("log")
    ax.set_xlabel("voltage (V)")
    ax.set_ylabel("rate (s$^{-1}$)")
    ax.legend(ncol=1 if len(args.rates) == 1 else 2)
    save(fig, args.output)


if __name__ == "__main__":
    main()
