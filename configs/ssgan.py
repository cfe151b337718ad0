"""Semi-supervised GAN (Salimans et al. 2016, Sec. 5) on Fashion-MNIST 28×28 with 100 labels (10 per class).

D: x + N(0, 0.3²) -> [WeightNormDense -> ReLU -> + N(0, 0.5²)] × (1000, 500, 250, 250, 250) -> WeightNormDense(10):
   the class logits of a (K+1)-way softmax whose fake logit is 0; features for feature matching = the last 250
   (before its noise). Every layer's weight norm is initialised on the data (method.data_init: step 0's
   labelled batch, noise on, each unit's pre-activation whitened); the hidden layers' scales g then stay
   fixed and the logits' g trains, as in the authors' MNIST code (train_scale only on the last layer).
G: z(100) ~ N(0, I) -> [Dense (no bias) -> BatchNorm (no scale) -> softplus] × (500, 500) ->
   WeightNormDense(784) -> sigmoid (the authors' MNIST G, nets.ssgan.SoftplusMLPGenerator).
Loss: D = supervised cross-entropy + 0.5 × the unsupervised real/fake terms on log Σ exp of the 10 logits
   (the authors' 0.5·softplus form); G = feature matching (mean squared gap of the batch means of D's
   features). Adam 3e-3 (β1 0.5) for both, batch 100 labelled + 100 unlabelled + 100 samples, the learning
   rate decayed linearly to 0.
Data: config.data.num_labelled = 100 class-balanced labels drawn by config.data.labelled_seed, the other
   59,900 training images unlabelled (gans.data.semi_supervised). Eval: D's accuracy on the 10,000 test
   images (eval.batch_size × eval.num_batches = all of them); sample-quality metrics off (D's accuracy
   is the result; --config.eval.sample_metrics=True scores samples with the evaluator's classifier,
   which is trained on the whole labelled training split, the cache of a plain Fashion-MNIST run).
   The baseline (method.name=ssgan_supervised) is the same D with the same data-dependent init and steps.

Differs from the paper's code: far fewer updates (300 epochs there, with a constant learning rate; here a
CPU budget of 8,000 steps, about 13 epochs, decayed to 0), z ~ N(0, I) (theirs U(0, 1)), the
data-dependent init on step 0's 100 labelled images (theirs on 500 training images), Flax's default
initialisers in G, no average of D's parameters for testing (theirs an EMA of rate 1e-4), and one
unlabelled batch and one G(z) shared by the D and G updates of a step (theirs a second permutation of
the unlabelled images and fresh samples for G). A run with another train.steps should set
optim.g/d.decay_steps to it too.

    python -m gans.main --config=configs/ssgan.py                                      # semi-supervised
    python -m gans.main --config=configs/ssgan.py --config.method.name=ssgan_supervised  # baseline
    python -m gans.main --config=configs/ssgan.py --config.data.num_labelled=1000      # 1,000 labels
"""

from gans import config_lib
from gans.methods import ssgan


def get_config(dataset='fashion_mnist'):
  c = config_lib.base_config(ssgan.method_config('ssgan', data_init=True))
  config_lib.set_dataset(c, dataset, supported=('fashion_mnist', 'mnist'))
  c.data.num_labelled = 100
  c.model = dict(
    dtype='float32',
    z_dim=100,
    generator='ssgan.SoftplusMLPGenerator',
    generator_kwargs=dict(hidden=(500, 500)),
    discriminator='ssgan.NoisyMLPClassifier',
    discriminator_kwargs=dict(
      hidden=(1000, 500, 250, 250, 250),
      input_noise=0.3,
      hidden_noise=0.5,
      weight_norm=True,
      train_hidden_scales=False,
    ),
  )
  c.loss = ssgan.loss_config(unsupervised_weight=0.5)
  steps = 8_000
  c.optim.g = config_lib.optimizer('adam', lr=3e-3, b1=0.5, decay_start=0, decay_steps=steps)
  c.optim.d = config_lib.optimizer('adam', lr=3e-3, b1=0.5, decay_start=0, decay_steps=steps)
  c.train.steps = steps
  c.train.batch_size = 100
  c.train.log_every = 500
  c.train.sample_every = 2_000
  c.train.eval_every = 2_000
  c.eval.batch_size = 500
  c.eval.num_batches = 20
  c.eval.sample_metrics = False
  return c
