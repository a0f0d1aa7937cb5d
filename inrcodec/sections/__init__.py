"""The pieces the modes share, one section of a chunk each: the network's latents (network.py),
spatial prediction within a bound (spatial.py), the three ways of keeping an absolute bound
(bounds.py), the pointwise relative section (relative.py) and the wavelet floor (transform.py).
Each writes its kind's section and holds its decoder (coding/kinds.py names it)."""
