"""The smallest real training run the tests share: a 2-latent VAE on 50 digits, one epoch."""

__all__ = ["TINY_RUN"]

TINY_RUN = {
    "data": "digits",
    "model": "vae",
    "latent_dim": 2,
    "hidden_dim": 8,
    "num_train": 50,
    "batch_size": 50,
    "epochs": 1,
    "seed": 1,
    "device": "cpu",
}
