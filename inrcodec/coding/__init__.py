"""The bitstream part: normalisation, quantization, entropy coding and the container."""
