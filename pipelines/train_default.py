"""Reproduce the bundled default 2-D model: meta-learned on A1B fields 0-191 (37 x 49 patches).

    python pipelines/train_default.py --minutes 50 --out inrcodec/models/default-2d.safetensors

The bundled model is that run (2 threads, 5836 outer steps). Continuing it for 38 minutes with
``--resume ... --lr 3e-4 --quantization-bits 3`` gained 0.7 dB at 3-bit latents and lost 1.2 to
2.1 dB at 4-6 bits, and 25 minutes with ``--resume ... --lr 3e-4`` lost 0.1-0.3 dB on the held-out
fields (overfitting 192 fields), so neither was bundled.
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
