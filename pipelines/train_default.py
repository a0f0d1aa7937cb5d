"""Reproduce the bundled default 2-D model: meta-learned on A1B fields 0-191 (37 x 49 patches).

    python pipelines/train_default.py --minutes 50 --out inrcodec/models/default-2d.safetensors

The bundled model: 50 minutes as above, then 38 more with
``--resume ... --minutes 38 --lr 3e-4 --quantization-bits 3 --threads 1``.
"""

from pipelines_common import train_and_save, training_arguments

from inrcodec.sample_data import A1B_TRAIN, load_a1b

if __name__ == "__main__":
    args = training_arguments(__doc__, out="inrcodec/models/default-2d.safetensors")
    train = load_a1b()[A1B_TRAIN]
    # The last 16 training fields watch progress; they stay in the training set too.
    train_and_save(train, args, val_samples=train[-16:],
                   card={"data": "iris-sample-data A1B_north_america.nc air_temperature, "
                                 "fields 0-191 (HadCM3 annual-mean 2 m temperature)"})
