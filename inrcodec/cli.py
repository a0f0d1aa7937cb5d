"""The ``inrcodec`` command.

    inrcodec demo                      compress the bundled A1B sample with the bundled model
                                       through xarray and Zarr; print size, ratio and errors
    inrcodec compress SOURCE... DEST   compress netCDF or GRIB files, globs or a Zarr store into
                                       a Zarr store on a dask cluster (resumes an interrupted run)
    inrcodec info STORE                codec settings, model, stored size and ratio per variable
    inrcodec train SOURCE... --var V --patch N,N --out MODEL
                                       meta-learn a model on windows drawn from an archive
    inrcodec bench [--quick] [--datasets NAME...] [--codec JSON] [--out DIR]
                                       rate-distortion, speed and cost against SZ3, ZFP, SPERR,
                                       BitRound, PCodec and a PCA control on real data
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def demo(out: str | None, latent_bits: float, inner_steps: int) -> None:
    import xarray as xr
    import zarr

    from . import INRCodec
    from .sample_data import A1B_TEST, A1B_VARIABLE, a1b_path, open_a1b
    from .store import store_size, stored_bytes

    codec = INRCodec("linear-2d", latent_bits=latent_bits, inner_steps=inner_steps)
    ds = open_a1b()[[A1B_VARIABLE]]
    original = ds[A1B_VARIABLE].values
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(out or Path(tmp) / "a1b.zarr")
        start = time.perf_counter()
        # One chunk per field: the model's patch is a whole 37 x 49 field.
        ds.to_zarr(store, mode="w", zarr_format=2, consolidated=True,
                   encoding={A1B_VARIABLE: {"compressors": codec, "chunks": (1, 37, 49)}})
        written = time.perf_counter()
        decoded = xr.open_zarr(store)[A1B_VARIABLE].values
        read = time.perf_counter()
        group = zarr.open_group(store, mode="r")
        chunks, metadata = stored_bytes(group[A1B_VARIABLE])
        whole, files = store_size(group.store)

    stored = chunks + metadata
    print(f"{a1b_path().name}: {A1B_VARIABLE} {original.shape} {original.dtype}, "
          f"{original.nbytes / 1e6:.2f} MB, model trained on fields 0-191")
    print(f"codec: {codec!r}")
    print(f"promise: {codec.mode.promise}")
    print(f"stored {stored} bytes ({chunks} of chunks, headers and checksums included, {metadata} "
          f"of the variable's metadata): ratio {original.nbytes / stored:.1f}x, "
          f"{8 * stored / original.size:.3f} bits per value (every stored byte over every value)")
    print(f"whole store: {whole} bytes in {files} files, coordinates included")
    print(f"write {written - start:.1f} s, read {read - written:.2f} s"
          + (f"; store kept at {out}" if out else ""))
    print(f"{'fields':24} {'PSNR dB':>8} {'RMSE K':>8} {'max err K':>9} {'bias K':>8}")
    for label, part in [("all 0-239", slice(None)), ("held out 192-239", A1B_TEST)]:
        x, y = original[part].astype(np.float64), decoded[part]
        rmse = float(np.sqrt(np.mean((x - y) ** 2)))
        print(f"{label:24} {20 * np.log10(np.ptp(x) / rmse):>8.2f} {rmse:>8.3f} "
              f"{np.abs(x - y).max():>9.3f} {np.mean(y - x):>8.4f}")


def compress(args) -> None:
    from .append import AlreadyAppended
    from .distributed import compress as run

    if args.adapt is not None and args.no_adapt:
        raise ValueError("--adapt MINUTES and --no-adapt contradict each other: give one")
    chunks = dict(_parse_chunks(c) for c in args.chunks or [])
    model = args.model or ("universal-2d" if args.adapt is not None else None)
    everywhere, promises = _parse_promises(args)
    try:
        report = run(args.source, args.dest, variables=args.var, model=model,
                     zarr_format=args.zarr_format, chunks=chunks, scheduler=args.scheduler,
                     n_workers=args.workers, torch_threads=args.torch_threads, plots=args.plots,
                     adapt=args.adapt, learn=not args.no_adapt, promises=promises,
                     append_dim=args.append_dim, group=args.group,
                     latent_bits=args.latent_bits, inner_steps=args.inner_steps, **everywhere)
    except AlreadyAppended as done:  # a finished append run again: nothing wrong, nothing to do
        print(f"inrcodec compress: {done}")
        return
    print(report.table())


def _parse_promises(args) -> tuple[dict, dict]:
    """(the promise of every variable, {variable: its own}) from ``--max-error 0.1`` and
    ``--max-error t2m=0.05`` alike (each promise option, repeatable)."""
    from .modes import PROMISES

    everywhere, own = {}, {}
    for setting in PROMISES:
        for text in getattr(args, setting) or []:
            name, given, value = text.rpartition("=")
            flag = "--" + setting.replace("_", "-")
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"{flag} takes a number or VAR=NUMBER, not {text!r}") from None
            target = own.setdefault(name, {}) if given else everywhere
            if setting in target:
                raise ValueError(f"{flag} given twice for {name or 'every variable'}")
            target[setting] = number
    for name, given in [("", everywhere), *own.items()]:
        if "min_psnr" in given and len(given) > 1:  # (a bound's mode has no PSNR floor)
            other = next(k for k in given if k != "min_psnr").replace("_", "-")
            raise ValueError(f"--min-psnr and --{other} are two promises for "
                             f"{name or 'every variable'}: give one")
    return everywhere, own


def _parse_chunks(text: str) -> tuple[str, tuple[int, ...]]:
    name, _, sizes = text.partition("=")
    try:
        return name, tuple(int(n) for n in sizes.split(","))
    except ValueError:
        raise ValueError(f"--chunks takes VAR=N,N,N, not {text!r}") from None


def _safeguarded(array) -> bool:
    """Whether numcodecs-safeguards' SafeguardedCodec (codec id "safeguards") wraps the codec."""
    codecs = (*array.compressors, array.serializer)
    ids = {getattr(c, "codec_id", None) for c in codecs}
    ids |= {getattr(getattr(c, "codec", None), "codec_id", None) for c in codecs}
    return "safeguards" in ids


def info(store: str, sample: int = 1000) -> None:
    import zarr

    from .append import PENDING, originals_of
    from .coding.kinds import NETWORK_KINDS, Kind
    from .store import chunk_kinds, describe_kinds, inrcodec_of, kinds_legend, store_size, stored_bytes

    if not Path(store).exists() and "://" not in store:
        raise FileNotFoundError(f"no such store: {store}")
    try:  # a group of variables (inrcodec compress), or one array at the root (zarr.create_array)
        node = zarr.open(store, mode="r")
    except (FileNotFoundError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{store} is not a Zarr store that this Zarr can read ({e})") from None
    group = node if isinstance(node, zarr.Group) else None
    arrays = sorted(group.arrays()) if group is not None else [(Path(store).name, node)]
    print(f"{'variable':20} {'shape':>18} {'chunks':>14} {'promise':>14} {'bits':>5} {'steps':>5} "
          f"{'model':>12} {'kB chunks':>9} {'kB meta':>7} {'ratio':>7} {'bits/val':>8} "
          f"{'network':>9}")
    details, values, seen = [], 0, set()
    for name, array in arrays:
        codec = inrcodec_of(array)
        if codec is None:
            continue
        chunks, metadata = stored_bytes(array)
        kinds, held = chunk_kinds(array, sample)
        seen |= set(kinds)
        network = sum(n for k, n in kinds.items() if k in NETWORK_KINDS)
        values += array.size
        guarded = _safeguarded(array)
        label = f"safeguarded {codec.mode.label}" if guarded else codec.mode.label
        print(f"{name:20} {str(array.shape):>18} {str(array.chunks):>14} {label:>14} "
              f"{codec.latent_bits:>5g} {codec.inner_steps:>5} {codec.model_hash[:12]:>12} "
              f"{chunks / 1e3:>9.1f} {metadata / 1e3:>7.1f} "
              f"{array.nbytes / max(chunks + metadata, 1):>7.1f} "
              f"{8 * (chunks + metadata) / max(array.size, 1):>8.3f} "
              f"{'-' if guarded else f'{network}/{sum(kinds.values())}':>9}")
        looked = sum(kinds.values())
        of = f"all {held} stored" if looked == held else f"{looked} sampled of {held} stored"
        if guarded:
            details.append(f"  {name}: chunks ({held} stored, of {array.nchunks}) inside numcodecs-"
                           f"safeguards' frame, kinds not read; promise: {codec.mode.promise}; and "
                           f"the safeguards' own")
        else:
            details.append(f"  {name}: chunks ({of}, of {array.nchunks}) "
                           f"{describe_kinds(kinds)}; promise: {codec.mode.promise}")
    print("\n".join(details))
    if seen & set(Kind.__members__):
        print(f"kinds: {kinds_legend(seen)}")
    pending = None if group is None else group.get(PENDING)
    for key, array in sorted(pending.arrays()) if pending is not None else []:
        if (rows := originals_of(key)) is not None:
            print(f"  {rows[0]}: the originals of rows {rows[1]}-{rows[2] - 1} (its last chunk) "
                  f"are kept, uncompressed ({stored_bytes(array)[0] / 1e3:.1f} kB), until an "
                  "append with --append-dim fills it")
    whole, files = store_size(node.store)
    per_value = (f"{8 * whole / values:.3f} bits per value of the inrcodec variables" if values
                 else "no variable of it is compressed by inrcodec")
    print(f"whole store: {whole / 1e3:.1f} kB in {files} files, {per_value}")
    print("ratio and bits/val count each variable's chunks and its own metadata: bits/val = 8 x "
          "those bytes / every value of the variable, NaNs included; network: chunks stored by "
          f"the network ({', '.join(NETWORK_KINDS)}) of those looked at")


def train(args) -> None:
    """By time (``--minutes``, the default): the whole command within that budget (adapt.py),
    from ``--init`` or afresh. By steps (``--steps``): exactly that many outer steps, a run any
    machine repeats bit for bit, with a validation curve and a rate-distortion report."""
    import dataclasses

    from .model import resolve
    from .recipe import BUNDLED, recipe_from

    if args.init is None and args.patch is None:
        raise ValueError("give --patch (a new model's patch shape) or --init (a model to adapt)")
    if args.init is not None and args.resume is not None:
        raise ValueError("--init and --resume both give the starting model: give one")
    if args.positions and args.linear is None:
        raise ValueError("--positions learns a linear model: give --linear K too")
    if args.linear is not None:
        _train_linear(args)
        return
    recipe = recipe_from(args)
    start = args.init or args.resume
    init = resolve(start) if start is not None else None
    if init is not None and init.linear:
        raise ValueError(f"{start} is a linear model: give --linear K to learn one (its patch "
                         "shape is taken from --init), or --init a SIREN such as universal-2d")
    asked = None if args.patch is None else tuple(int(n) for n in args.patch.split(","))
    patch_shape = init.patch_shape if init is not None else asked
    if asked is not None and asked != patch_shape:
        raise ValueError(f"--patch {args.patch} differs from the model's patches {patch_shape}; "
                         "leave --patch out with --init")
    by_time = recipe.max_steps is None
    card = {"data": f"{args.var} from {', '.join(map(str, args.source))}: " + (
        f"patches of {patch_shape} cut from windows of its chunks" if by_time
        else f"windows of {patch_shape}")}
    if by_time:
        from .adapt import adapt

        changes = {f.name: getattr(recipe, f.name) for f in dataclasses.fields(recipe)
                   if getattr(recipe, f.name) != getattr(BUNDLED, f.name)
                   and f.name not in ("minutes", "max_steps")}
        if args.resume is not None:  # continuing a run: its own rate, not a fine-tuning one
            changes["lr"] = recipe.lr
        adaptation = adapt(args.source, args.var, recipe.minutes, init=init,
                           patch_shape=patch_shape, samples=args.samples, seed=recipe.seed,
                           device=args.device, card=card, **changes)
        adaptation.model.save(args.out)
        print(f"saved {args.out}: hash {adaptation.model.hash[:12]}; {adaptation.describe()}")
        return
    _train_by_steps(args, recipe, init, patch_shape, card)


def _train_linear(args) -> None:
    """A linear model (linear.py): the EOFs of the archive's patches, in seconds."""
    import time

    from .learn import learn_model
    from .model import resolve

    began = time.monotonic()
    shape = (resolve(args.init).patch_shape if args.init is not None
             else tuple(int(n) for n in args.patch.split(",")))
    model = learn_model(args.source, args.var, shape, args.linear, args.samples,
                        positions=args.positions)
    model.save(args.out)
    what = (f"{model.latent_dim} EOFs of {model.card['patches']} patches of {shape}"
            if model.home is None else
            f"{model.latent_dim} EOFs for each of the {len(model.position_mean)} "
            f"{' x '.join(map(str, model.patch_shape))} patch positions of its "
            f"{' x '.join(map(str, model.home))} fields")
    print(f"saved {args.out}: hash {model.hash[:12]}; a linear model of {what}, learned in "
          f"{time.monotonic() - began:.1f} s")


def _train_by_steps(args, recipe, init, patch_shape, card) -> None:
    from .train import meta_train
    from .training_report import write_report
    from .training_windows import sample_patches

    windows = sample_patches(args.source, args.var, patch_shape, args.samples, seed=recipe.seed)
    model = meta_train(windows.train, recipe, val_samples=windows.validation,
                       val_every=args.val_every, device=args.device, init=init,
                       checkpoint=f"{args.out}.checkpoint", checkpoint_every=60.0,
                       card={**card, "windows": windows.describe()})
    if windows.validation is not None:  # the rate-distortion report, once: the card keeps it
        report = write_report(model, windows.validation, Path(args.out).with_suffix(".report"))
        model.card["rate_distortion"] = report["rate_distortion"]
    model.save(args.out)
    Path(f"{args.out}.checkpoint").unlink(missing_ok=True)
    last = model.card["validation"][-1:] or [{}]
    print(f"saved {args.out}: hash {model.hash[:12]}, {model.card['training']['outer_steps']} "
          f"outer steps on {windows.describe()}, held-out PSNR {last[0].get('val_psnr', 'n/a')} dB")


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (0 workers waited for ever)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1, not {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1, not {text!r}")
    return number


class OneLineParser(argparse.ArgumentParser):
    """Usage errors in one line and status 1, as every other error a user can fix (docs/cli.md),
    not argparse's usage block and status 2; ``-h`` still prints the usage."""

    def error(self, message: str):
        self.exit(1, f"{self.prog}: error: {message} (see {self.prog.split()[0]} --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="inrcodec", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    p = commands.add_parser("demo", help="compress the bundled sample data and report")
    p.add_argument("--out", help="keep the Zarr store at this path")
    p.add_argument("--latent-bits", type=float, default=6.5)
    p.add_argument("--inner-steps", type=int, default=3)
    p = commands.add_parser("compress", help="compress datasets into Zarr on a dask cluster")
    p.add_argument("source", nargs="+", help="netCDF or GRIB files (anything xarray opens), "
                   "globs, or a Zarr store")
    p.add_argument("dest", help="the Zarr store to write (an existing one is resumed)")
    p.add_argument("--var", action="append", help="variable to compress (repeat; default: "
                   "every floating variable)")
    p.add_argument("--model", help="a bundled model's name or a model file (default: "
                   "linear-2d, or with --adapt universal-2d; linear-3d or universal-3d for volumes)")
    p.add_argument("--latent-bits", type=float, default=6.5)
    p.add_argument("--inner-steps", type=int, default=3)
    mode = p.add_argument_group("promises: each takes X (every variable) or VAR=X (that "
                                "variable, in place of the others'), and repeats")
    promise = dict(action="append", metavar="[VAR=]X")
    mode.add_argument("--max-error", **promise, help="error bound: every value within X")
    mode.add_argument("--relative-error", **promise,
                      help="error bound as a fraction of each chunk's range")
    mode.add_argument("--bits-per-value", **promise,
                      help="size budget: at most X bits per value in every chunk")
    mode.add_argument("--pointwise-relative-error", **promise,
                      help="every value within X times its own magnitude (zeros exact)")
    mode.add_argument("--max-rmse", **promise,
                      help="in place of the PSNR floor: every chunk's RMS error at most X")
    mode.add_argument("--min-psnr", **promise,
                      help="without a bound or budget: every chunk at least X dB PSNR over its "
                           "range (default: the codec's, 40)")
    p.add_argument("--append-dim", metavar="DIM",
                   help="grow the store along DIM (time): appends the source's rows to an existing "
                        "store written with the same options, or starts one that will grow; no "
                        "stored chunk is decoded and re-encoded (the originals of a partial last "
                        "chunk are kept in the store until it fills)")
    p.add_argument("--group", metavar="NAME",
                   help="compress this group of a netCDF-4 file or Zarr store ('/': its root); "
                        "a source with groups is refused without it (a store each)")
    p.add_argument("--zarr-format", type=int, choices=[2, 3],
                   help="of a new store (default 2); a resumed one keeps its own")
    p.add_argument("--chunks", action="append", metavar="VAR=N,N,N",
                   help="Zarr chunks of a variable (default: aligned with the model's patches)")
    p.add_argument("--scheduler", help="address of a running dask scheduler (default: start a "
                   "LocalCluster)")
    p.add_argument("--workers", type=positive_int, default=2, help="LocalCluster worker processes")
    p.add_argument("--torch-threads", type=positive_int, default=1, help="torch threads per task")
    p.add_argument("--adapt", type=float, metavar="MINUTES",
                   help="first fine-tune the model on distinct windows of the source for at most "
                        "this long (all variables together, reading and measuring included), "
                        "and compress with the adapted model, embedded in the store")
    p.add_argument("--no-adapt", action="store_true",
                   help="do not learn the archive: by default each variable gets a linear model "
                        "of its own chunks' EOFs (seconds) where held-out chunks show it pays, "
                        "embedded in the store; the report says whether and why")
    p.add_argument("--plots", metavar="DIR", help="write each variable's error map and histogram "
                   "of errors to DIR/VAR.errors.png (needs matplotlib)")
    p = commands.add_parser("info", help="what an inrcodec store holds")
    p.add_argument("store")
    p = commands.add_parser("train", help="meta-learn a model on an archive")
    p.add_argument("source", nargs="+", help="netCDF files, globs, or a Zarr store")
    p.add_argument("--var", required=True)
    p.add_argument("--patch", help="a new model's patch shape, e.g. 37,49 or 16,16,16")
    p.add_argument("--init", help="adapt this model (a bundled name or a file): its patch "
                                  "shape and architecture")
    p.add_argument("--out", required=True, help="the model file to write (.safetensors)")
    p.add_argument("--linear", type=int, metavar="K",
                   help="learn a linear model of K EOFs instead (seconds, no training): the "
                        "patch shape from --patch or --init")
    p.add_argument("--positions", action="store_true",
                   help="with --linear: EOFs of their own for each patch position of a field "
                        "(absolute coordinates; the variable's chunks must hold whole fields)")
    p.add_argument("--samples", type=int, default=4096,
                   help="training patches: by time, cut from distinct windows of the variable's "
                        "chunks; by steps, distinct windows of the patch shape")
    from .recipe import add_recipe_arguments

    add_recipe_arguments(p)  # the bundled model's recipe, field by field
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--device", default="auto", help="auto (a GPU when present), cpu, cuda")
    p.add_argument("--resume", help="continue from this model or checkpoint")
    p = commands.add_parser("bench", help="benchmark against peer compressors on real data")
    from .bench.options import add_arguments

    add_arguments(p)
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            demo(args.out, args.latent_bits, args.inner_steps)
        elif args.command == "compress":
            compress(args)
        elif args.command == "train":
            train(args)
        elif args.command == "bench":
            from .bench.options import options_from
            from .bench.run import run_and_report

            run_and_report(options_from(args))
        else:
            info(args.store)
    except KeyboardInterrupt:
        again = ": run the same command again to resume" if args.command == "compress" else ""
        print(f"inrcodec {args.command}: interrupted{again}", file=sys.stderr)
        return 130
    except (ValueError, TypeError, ImportError, OSError) as e:  # a readable line, not a traceback
        print(f"inrcodec {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
