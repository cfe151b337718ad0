"""GAN-CLS with GAN-INT and style transfer (Reed et al. 2016) on captioned Fashion-MNIST 28×28.

Captions: ``data.captions=attributes`` (``gans.data.captions``): the class name and three attributes
measured from the pixels (brightness, width, texture), each binned at its class's median into a word,
in 5 templates per image ("a dark, wide pullover", "this sneaker is light and plain", ...); at most
``data.max_caption_length`` = 8 words. With internet-free caption files of your own (CUB-200 /
Oxford-102 layout): ``--config.data.captions=files --config.data.source_dir=ROOT
--config.data.image_size=64`` (the nets below are for 28×28; pass 64×64 ones for that).

φ (text): Embed(32) -> GRU(64) -> Dense(64), unit norm; pre-trained for ``method.pretrain_steps`` = 500
steps with the symmetric contrastive loss (τ = 0.1) against ψ (Conv(16, s2) -> Conv(32, s2) -> Dense(64)),
then frozen (``method.train_text_encoder=False``).
G: [z(100), LReLU(Dense(32)(φ(t)))] -> the DCGAN 28×28 generator at width 32 (Dense(7·7·128) -> ConvT 64
-> ConvT 32 -> ConvT 1, BN, ReLU, tanh). D: Conv(32, 5×5, s2) -> LReLU -> Conv(64, s2) -> BN -> LReLU ->
[7×7 map, LReLU(Dense(32)(φ(t))) tiled] -> Conv 1×1 (64) -> BN -> LReLU -> Dense(1).
S: Conv(32, s2) -> Conv(64, s2) -> Dense(100). Loss: the matching-aware D (real/right, ½ real/wrong,
½ fake/right), G non-saturating plus GAN-INT (β = 0.5, weight 1); S: ‖z - S(G(z, h))‖². Adam 2e-4,
β1 0.5 for G, D and S; Adam 1e-3 for φ and ψ.

Differences from the paper: its φ is a char-CNN-RNN trained with the structured joint embedding on
CUB/Oxford captions, 1024-d, compressed to 128; here a word GRU with a contrastive loss, 64-d compressed
to 32, on captions generated from measured attributes; its nets are for 64×64 images, 4×4 maps in D;
here the DCGAN 28×28 nets at half width, a 7×7 map; G and D at half the paper's widths for the CPU.
Baseline without the real/wrong term: ``--config.loss.matching_aware=False``; without GAN-INT:
``--config.loss.interpolation_weight=0``.

    python -m gans.main --config=configs/gancls.py
    python -m gans.main --config=configs/gancls.py --mode=sample --config.sample.kind=text \
        --config.sample.captions='a dark sneaker;a light, wide dress'
    python -m gans.main --config=configs/gancls.py --mode=sample --config.sample.kind=style_transfer
"""

from gans import config_lib
from gans.methods import gancls


def get_config(dataset='fashion_mnist'):
  c = config_lib.base_config(gancls.method_config(pretrain_steps=500))
  config_lib.set_dataset(c, dataset, supported=('fashion_mnist', 'mnist'))
  c.data.value_range = (-1.0, 1.0)
  c.data.captions = 'attributes'  # attributes (measured, gans.data.captions) | files (source_dir).
  c.data.max_caption_length = 8  # Words per caption; a longer one is refused, naming it.
  c.model = dict(
    dtype='float32',
    z_dim=100,
    compress_dim=32,  # φ(t) -> LReLU(Dense) of this size, in G and D.
    text_encoder_kwargs=dict(embed_dim=32, hidden=64, out_dim=64),
    image_encoder_kwargs=dict(widths=(16, 32)),
    generator='dcgan.image_generator',
    generator_kwargs=dict(base_features=32),
    discriminator='gancls.MatchingDiscriminator',
    discriminator_kwargs=dict(widths=(32, 64)),
    inverse_kwargs=dict(widths=(32, 64)),
  )
  c.loss = gancls.loss_config()
  c.optim.g = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.optim.d = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.optim.s = config_lib.optimizer('adam', lr=2e-4, b1=0.5)
  c.optim.text = config_lib.optimizer('adam', lr=1e-3, b1=0.9)
  c.sample.captions = 'a dark sneaker;a light, wide dress;a patterned pullover;a light trouser'
  c.train.steps = 3_000
  c.train.batch_size = 64
  c.train.log_every = 100
  c.train.sample_every = 1_000
  c.train.checkpoint_every = 1_000
  return c
