"""Reproduce the bundled default 2-D model: meta-learned on A1B fields 0-191 (37 x 49 patches).

The bundled model is one run of this script, 59 minutes on this 2-core CPU (then 17 s for the
latent statistics and basis):

    python pipelines/train_default.py --minutes 59 --mix 3 --out inrcodec/models/default-2d.safetensors

``--mix 3`` trains on affine mixes ``x_i + a (x_j - x_k)`` of the fields (|a| <= 3, each mix
renormalised as a chunk would be) instead of the fields themselves. A few hundred
fields pin a meta-learned network to themselves (docs/mix.md: 46.35 dB on the fields it trained
on, 42.81 on the fields after them); the held-out fields lie mostly in the training fields' span
(all 192 EOFs reach 48.87 dB on them, docs/a1b.md), and the mixes make the network learn that
span. The spread 3 was chosen on fields
0-143 against 144-191 (pipelines/choose_mix.py, docs/mix.md), never on the test fields.

The run watches the held-out fields 192-239 (never trained on, nothing chosen by them): the
card's curve shows the run's progress on unseen fields, its schedule's decay included;
``training_time.py`` shows what more steps buy, each run with a whole schedule. The previous bundled model
(bitstream v3's first, hash 6571627b955d) took 80 minutes in two runs without mixes and then
L0 gates, and reached 44.06 dB at 0.149 bits per value where this one reached 44.65 at 0.146
(pipelines/evaluate_a1b.py, both with nearest rounding of the latents; with the
entropy-constrained rounding encoders use now, this one reaches 45.09 at 0.149).
"""

from pipelines_common import train_and_save, training_arguments

from inrcodec.sample_data import A1B_TEST, A1B_TRAIN, load_a1b

if __name__ == "__main__":
    args = training_arguments(__doc__, out="inrcodec/models/default-2d.safetensors")
    fields = load_a1b()
    # The held-out fields 192-239 are watched, never trained on or chosen by: the card's curve
    # is then the run's progress on unseen fields.
    train_and_save(fields[A1B_TRAIN], args, val_samples=fields[A1B_TEST],
                   card={"data": "iris-sample-data A1B_north_america.nc air_temperature, "
                                 "fields 0-191 (HadCM3 annual-mean 2 m temperature)"})
