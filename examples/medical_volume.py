"""A brain MRI volume (NIfTI) into Zarr with 3-D chunks and back, a slice plotted before and after.

Every voxel is guaranteed within --max-error of the original (intensities are 0-255).

    pip install torch==2.13.0 "inrcodec[examples]"
    python examples/medical_volume.py [--max-error 2] [--crop 0] [--out mni_inrcodec]
"""

import argparse
import zlib
from pathlib import Path

import matplotlib
import nibabel
import numpy as np
import zarr

from inrcodec import INRCodec
from inrcodec.measure import psnr_db
from inrcodec.sample_data import mni_path
from inrcodec.store import stored_chunk_bytes

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--max-error", type=float, default=2.0)
parser.add_argument("--crop", type=int, default=0, help="a centred cube of this size (0: all)")
parser.add_argument("--out", default="mni_inrcodec")
args = parser.parse_args()
out = Path(args.out)
out.mkdir(exist_ok=True)

image = nibabel.load(mni_path())  # MNI152 T1 template, 197 x 233 x 189 uint8
volume = np.asarray(image.dataobj, dtype=np.uint8)
if args.crop:
    start = [(n - args.crop) // 2 for n in volume.shape]
    volume = volume[tuple(slice(s, s + args.crop) for s in start)]

codec = INRCodec("linear-3d", max_error=args.max_error)
array = zarr.create_array(store=out / "mni.zarr", shape=volume.shape, dtype=volume.dtype,
                          chunks=(64, 64, 64), zarr_format=2, compressors=codec, overwrite=True)
array[:] = volume
decoded = zarr.open_array(out / "mni.zarr", mode="r")[:]
nibabel.Nifti1Image(decoded, image.affine).to_filename(out / "mni_decoded.nii.gz")

stored = stored_chunk_bytes(array)
error = decoded.astype(np.int16) - volume
rmse = np.sqrt(np.mean(error.astype(np.float64) ** 2))
print(f"{volume.shape} uint8, {volume.nbytes / 1e6:.1f} MB -> {stored / 1e6:.3f} MB of chunks: "
      f"ratio {volume.nbytes / stored:.1f}, {8 * stored / volume.size:.3f} bits per voxel")
print(f"max error {np.abs(error).max()} (bound {args.max_error}), "
      f"PSNR {psnr_db(255, rmse):.1f} dB (peak 255)")
lossless = len(zlib.compress(volume.tobytes(), 9))
print(f"for scale, lossless zlib-9: {8 * lossless / volume.size:.3f} bits per voxel")

z = volume.shape[2] // 2
fig, axes = plt.subplots(1, 3, figsize=(12, 4.5))
for ax, (title, picture, cmap) in zip(axes, [("original", volume[:, :, z], "gray"),
                                             ("inrcodec", decoded[:, :, z], "gray"),
                                             ("difference", error[:, :, z], "coolwarm")]):
    shown = ax.imshow(picture.T, origin="lower", cmap=cmap)
    ax.set_title(title)
    ax.axis("off")
fig.colorbar(shown, ax=axes[2], shrink=0.8)
fig.savefig(out / "mni_slice.png", dpi=80, bbox_inches="tight")
print(f"wrote {out / 'mni_slice.png'} and {out / 'mni_decoded.nii.gz'}")
