"""Pure-PyTorch GAN networks, losses and the training loop. No web or database imports here."""
