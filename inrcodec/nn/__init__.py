"""The neural part: coordinates, the modulated base network, and the latent fit."""
