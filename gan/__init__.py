"""Generative image models (GAN, DCGAN, neural style transfer) built on the shared `rllab` core."""
