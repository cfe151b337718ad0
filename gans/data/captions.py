"""Captions of images as a named array of the split: ``caption`` int32 [N, C, L], C captions per image of
L tokens each (0 = padding), for GAN-CLS (``gans.methods.gancls``).

Two sources (``config.data.captions``):

* ``attributes``: captions that are true of their images and can be checked, made offline for a labelled
  image dataset (Fashion-MNIST, MNIST). Three attributes are measured from the pixels (``measure``):

      garment pixels  M = {p : grey(p) > 0.1}                      (grey in [0, 1], mean of the channels)
      brightness      mean of grey over M
      width           |M| / (rows with a pixel of M) / W            (the mean occupied fraction of a row)
      texture         mean over the interior of M (its 4 neighbours also in M) of
                      (g(p) - g(p + x̂))² + (g(p) - g(p + ŷ))²     (the local gradient energy)

  and each is binned into a word by the median of its class in the training split (``thresholds``):
  dark/light, narrow/wide, plain/patterned, so "a wide sneaker" is wider than the median sneaker. Each
  image gets one caption per template of ``TEMPLATES`` ("a dark, wide pullover", "this sneaker is light
  and plain", ...): C = 5, fully determined by the image. The same functions score generated images
  (``attribute_agreement``).
* ``files``: a folder laid out as the CUB-200 / Oxford-102 caption releases (``read_caption_folder``):
  ``ROOT/images/**/<stem>.{png,jpg,jpeg}`` and ``ROOT/text/<class>/<stem>.txt`` with one caption per
  line; the class is the text file's folder.

Tokens: lower-cased words ``[a-z0-9]+`` joined by ``-`` or ``'`` (punctuation dropped), looked up in the
vocabulary (``Vocabulary``: ``<pad>`` = 0, ``<unk>`` = 1, then the words in sorted order). The vocabulary,
the class names, the thresholds and C are written beside the prepared data (``prepare``, in the dataset's
``cache_dir/captions``) from the training split, and the test split and sampling read them from there.
A test caption's unknown word becomes ``<unk>``; a caption given to sample from with an unknown word is
refused, naming the word (``encode(..., unknown='refuse')``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import string

import numpy as np

from gans.data import folders

PAD, UNK = 0, 1
SPECIAL = ('<pad>', '<unk>')
GARMENT_LEVEL = 0.1
# name -> (word below the class median, word above it).
ATTRIBUTES = {
  'brightness': ('dark', 'light'),
  'width': ('narrow', 'wide'),
  'texture': ('plain', 'patterned'),
}
TEMPLATES = (
  'a {brightness}, {width} {name}',
  'this {name} is {brightness} and {texture}',
  'a {texture} {name}',
  'a {width} {name} that looks {brightness}',
  'a {brightness} {texture} {name}',
)
# Every attribute, for the captions the method samples from by default and scores by class.
FULL_TEMPLATE = 'a {brightness}, {width}, {texture} {name}'
CLASS_NAMES = {
  'fashion_mnist': (
    't-shirt',
    'trouser',
    'pullover',
    'dress',
    'coat',
    'sandal',
    'shirt',
    'sneaker',
    'bag',
    'ankle boot',
  ),
  'mnist': ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'),
}
KINDS = ('attributes', 'files')
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_IMAGE_DIR, _TEXT_DIR = 'images', 'text'


def words(text: str) -> list[str]:
  """The words of ``text``: lower case, punctuation dropped (``'a Light, wide dress'`` -> a light wide
  dress)."""
  return _WORD.findall(text.lower())


class Vocabulary:
  """Words <-> ids: ``<pad>`` = 0, ``<unk>`` = 1, then ``words`` in sorted order from 2."""

  def __init__(self, known):
    self.words = (*SPECIAL, *sorted(set(known) - set(SPECIAL)))
    self.ids = {word: i for i, word in enumerate(self.words)}

  def __len__(self) -> int:
    return len(self.words)

  def save(self, path: str) -> None:
    _write_atomic(path, '\n'.join(self.words) + '\n')

  @classmethod
  def load(cls, path: str) -> Vocabulary:
    with open(path) as f:
      return cls(f.read().split())

  def encode(
    self, texts, max_length: int, *, unknown: str = 'map', where=None
  ) -> tuple[np.ndarray, list[str]]:
    """int32 [n, max_length] token ids of ``texts`` (padded with 0) and the unknown words met.

    ``unknown='map'`` writes ``<unk>`` for a word outside the vocabulary; ``'refuse'`` raises ValueError
    naming the words. An empty caption or one of more than ``max_length`` words raises ValueError naming
    it (``where[i]`` says where caption i came from) and the fix.
    """
    tokens = np.zeros((len(texts), max_length), np.int32)
    unknown_words = []
    for i, text in enumerate(texts):
      place = where[i] if where is not None else f'caption {i + 1} {text!r}'
      found = words(text)
      if not found:
        raise ValueError(f'{place} is empty: write a caption with at least one word, or remove it.')
      if len(found) > max_length:
        raise ValueError(
          f'{place} has {len(found)} words, more than config.data.max_caption_length={max_length}: '
          f'shorten it or raise --config.data.max_caption_length to at least {len(found)}.'
        )
      missing = [word for word in found if word not in self.ids]
      unknown_words += missing
      if missing and unknown == 'refuse':
        raise ValueError(
          f'{place}: {", ".join(repr(w) for w in dict.fromkeys(missing))} not in the vocabulary of '
          f'{len(self)} words the text encoder knows; use its words (e.g. {", ".join(self.words[2:8])}, '
          '...; the list is vocabulary.txt beside the prepared data).'
        )
      tokens[i, : len(found)] = [self.ids.get(word, UNK) for word in found]
    return tokens, unknown_words

  def decode(self, tokens) -> list[str]:
    """Token ids [n, L] -> the captions' words joined by spaces (padding dropped)."""
    return [' '.join(self.words[t] for t in row if t != PAD) for row in np.asarray(tokens)]


def _write_atomic(path: str, text: str) -> None:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  temporary = f'{path}.tmp{os.getpid()}'
  with open(temporary, 'w') as f:
    f.write(text)
  os.replace(temporary, path)


# Attributes measured from the pixels.


def _grey(images) -> np.ndarray:
  """uint8 [N, H, W, C] or float [N, H, W, C] in [0, 1] -> float32 grey [N, H, W] in [0, 1]."""
  images = np.asarray(images)
  scale = 255.0 if images.dtype == np.uint8 else 1.0
  return images.astype(np.float32).mean(axis=-1) / scale


def measure(images) -> dict[str, np.ndarray]:
  """The attributes of ``images`` [N, H, W, C] (uint8, or float in [0, 1]) as float32 [N] each
  (module docstring: brightness, width, texture)."""
  grey = _grey(images)
  mask = grey > GARMENT_LEVEL
  area = mask.sum(axis=(1, 2))
  rows = mask.any(axis=2).sum(axis=1)
  padded = np.pad(mask, ((0, 0), (1, 1), (1, 1)))
  interior = (
    mask & padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1] & padded[:, 1:-1, :-2] & padded[:, 1:-1, 2:]
  )
  dx = np.zeros_like(grey)
  dy = np.zeros_like(grey)
  dx[:, :, :-1] = grey[:, :, :-1] - grey[:, :, 1:]
  dy[:, :-1] = grey[:, :-1] - grey[:, 1:]
  energy = (dx * dx + dy * dy) * interior
  return {
    'brightness': (grey * mask).sum(axis=(1, 2)) / np.maximum(area, 1),
    'width': area / np.maximum(rows, 1) / grey.shape[2],
    'texture': energy.sum(axis=(1, 2)) / np.maximum(interior.sum(axis=(1, 2)), 1),
  }


def thresholds(values: dict[str, np.ndarray], labels, num_classes: int) -> dict[str, list[float]]:
  """Each attribute's median per class (float [K] each) over measured ``values``; an absent class: 0."""
  labels = np.asarray(labels)
  return {
    name: [
      float(np.median(values[name][labels == k])) if np.any(labels == k) else 0.0
      for k in range(num_classes)
    ]
    for name in ATTRIBUTES
  }


def bins(values: dict[str, np.ndarray], labels, cuts: dict[str, list[float]]) -> np.ndarray:
  """int32 [N, A]: 1 where attribute a of example n is above its class's median (the second word of
  ``ATTRIBUTES[a]``), else 0; attributes in the order of ``ATTRIBUTES``."""
  labels = np.asarray(labels)
  return np.stack(
    [values[name] > np.asarray(cuts[name])[labels] for name in ATTRIBUTES], axis=-1
  ).astype(np.int32)


def caption(template: str, class_name: str, attribute_bins) -> str:
  """``template`` filled with the class name and the words of ``attribute_bins`` [A]."""
  filled = {name: ATTRIBUTES[name][int(b)] for name, b in zip(ATTRIBUTES, attribute_bins)}
  return template.format(name=class_name, **filled)


def template_fields(template: str) -> tuple[str, ...]:
  """The attributes a template names, e.g. ``('brightness', 'width')``."""
  return tuple(f for _, f, _, _ in string.Formatter().parse(template) if f in ATTRIBUTES)


def all_bins() -> np.ndarray:
  """Every combination of attribute bins, int32 [2^A, A], row r = the bits of r (first attribute
  highest)."""
  return np.asarray(list(itertools.product((0, 1), repeat=len(ATTRIBUTES))), np.int32)


def attribute_vocabulary(class_names) -> Vocabulary:
  """The words of every caption ``TEMPLATES`` and ``FULL_TEMPLATE`` can make with these classes."""
  known = {
    word
    for template in (*TEMPLATES, FULL_TEMPLATE)
    for name in class_names
    for combination in all_bins()
    for word in words(caption(template, name, combination))
  }
  return Vocabulary(known)


def caption_table(class_names, vocabulary: Vocabulary, max_length: int, templates=TEMPLATES):
  """int32 [K, 2^A, T, L]: the tokens of template t for class k with attribute bins ``all_bins()[r]``."""
  combos = all_bins()
  texts = [caption(t, name, combo) for name in class_names for combo in combos for t in templates]
  tokens, _ = vocabulary.encode(texts, max_length)
  return tokens.reshape(len(class_names), len(combos), len(templates), max_length)


def bin_rows(attribute_bins) -> np.ndarray:
  """[N, A] bins -> int [N] row of ``all_bins()`` (the bits read as a number, first attribute highest)."""
  weights = 2 ** np.arange(len(ATTRIBUTES) - 1, -1, -1)
  return np.asarray(attribute_bins) @ weights


# What a caption says, read back from its tokens.


def caption_classes(texts, class_names) -> np.ndarray:
  """int32 [n]: the class a caption names (the first class name found as whole words; the longest
  name first, so 'ankle boot' before 'boot'), -1 when none."""
  names = sorted(enumerate(class_names), key=lambda item: -len(words(item[1])))
  out = np.full(len(texts), -1, np.int32)
  for i, text in enumerate(texts):
    found = f' {" ".join(words(text))} '
    for k, name in names:
      if f' {" ".join(words(name))} ' in found:
        out[i] = k
        break
  return out


def caption_bins(texts) -> np.ndarray:
  """int32 [n, A]: the bin each caption states for each attribute (0 / 1), -1 where it states none."""
  out = np.full((len(texts), len(ATTRIBUTES)), -1, np.int32)
  for i, text in enumerate(texts):
    found = set(words(text))
    for a, pair in enumerate(ATTRIBUTES.values()):
      for b, word in enumerate(pair):
        if word in found:
          out[i, a] = b
  return out


def attribute_agreement(images, texts, class_names, cuts) -> dict[str, float]:
  """How often the measured attributes of ``images`` [n, H, W, C] in [0, 1] fall in the bins their
  captions ``texts`` state, the class's medians ``cuts`` deciding: ``attribute_<name>`` per attribute
  (over the captions that state it and name a class) and ``attribute_mean`` (their mean); a random image
  of the right class scores 0.5 on each."""
  classes = caption_classes(texts, class_names)
  stated = caption_bins(texts)
  measured = bins(measure(images), np.maximum(classes, 0), cuts)
  results = {}
  for a, name in enumerate(ATTRIBUTES):
    rows = (stated[:, a] >= 0) & (classes >= 0)
    if rows.any():
      results[f'attribute_{name}'] = float(np.mean(measured[rows, a] == stated[rows, a]))
  if results:
    results['attribute_mean'] = float(np.mean(list(results.values())))
  return results


# The prepared files beside the data: vocabulary.txt and captions.json.


class Prepared:
  """What the captions of a dataset share between its splits and with the method: the vocabulary, the
  class names, the attribute medians (``attributes`` only) and the captions per image C."""

  def __init__(self, vocabulary: Vocabulary, class_names, cuts, captions_per_image: int):
    self.vocabulary, self.class_names = vocabulary, tuple(class_names)
    self.thresholds, self.captions_per_image = cuts, captions_per_image

  def save(self, directory: str) -> None:
    self.vocabulary.save(os.path.join(directory, 'vocabulary.txt'))
    meta = dict(
      class_names=self.class_names,
      thresholds=self.thresholds,
      captions_per_image=self.captions_per_image,
    )
    _write_atomic(os.path.join(directory, 'captions.json'), json.dumps(meta, indent=1))

  @classmethod
  def load(cls, directory: str) -> Prepared | None:
    """The files of ``directory``, or None when they are not there yet."""
    meta_path = os.path.join(directory, 'captions.json')
    if not os.path.exists(meta_path):
      return None
    with open(meta_path) as f:
      meta = json.load(f)
    vocabulary = Vocabulary.load(os.path.join(directory, 'vocabulary.txt'))
    return cls(vocabulary, meta['class_names'], meta['thresholds'], meta['captions_per_image'])


def class_names_of(dataset: str) -> tuple[str, ...]:
  if dataset not in CLASS_NAMES:
    raise ValueError(
      f'config.data.captions=attributes needs the class names of the dataset, known for '
      f'{", ".join(CLASS_NAMES)}, not {dataset!r}: use one of those, or captions from files '
      '(--config.data.captions=files --config.data.source_dir=ROOT with ROOT/images and ROOT/text).'
    )
  return CLASS_NAMES[dataset]


def prepare_attributes(train_images, train_labels, dataset: str) -> Prepared:
  """The prepared captions of a labelled dataset from its training split."""
  names = class_names_of(dataset)
  cuts = thresholds(measure(train_images), train_labels, len(names))
  return Prepared(attribute_vocabulary(names), names, cuts, len(TEMPLATES))


def attribute_captions(images, labels, prepared: Prepared, max_length: int) -> np.ndarray:
  """int32 [N, C, L]: caption c of image n is ``TEMPLATES[c]`` with its class and measured words."""
  table = caption_table(prepared.class_names, prepared.vocabulary, max_length)
  rows = bin_rows(bins(measure(images), labels, prepared.thresholds))
  return table[np.asarray(labels), rows]


# Captions from files (CUB / Oxford-102 layout).


def _files(directory: str, extensions) -> dict[str, str]:
  """stem -> path of the files under ``directory`` (recursively) ending in ``extensions``."""
  found = {}
  for root, _, names in os.walk(directory):
    for name in sorted(names):
      if name.lower().endswith(extensions):
        stem = os.path.splitext(name)[0]
        if stem in found:
          raise ValueError(
            f'two files named {stem!r} under {directory}: {found[stem]} and '
            f'{os.path.join(root, name)}; images and caption files are matched by name, so rename one.'
          )
        found[stem] = os.path.join(root, name)
  return found


def folder_fingerprint(root: str) -> str:
  """A short hash of the absolute paths, sizes and modification times of the files under ``root``."""
  digest = hashlib.sha256()
  for directory, _, names in sorted(os.walk(os.path.abspath(root))):
    for name in sorted(names):
      stat = os.stat(os.path.join(directory, name))
      digest.update(f'{directory}/{name}:{stat.st_size}:{stat.st_mtime_ns}'.encode())
  return digest.hexdigest()[:12]


def read_caption_folder(root: str, split: str, image_size: int, max_length: int):
  """The examples of ``split`` of a caption folder ``root`` (module docstring): -> (images uint8
  [N, S, S, 3], labels int32 [N], the caption texts per image, where each came from, class names).

  The test split is every 10th example in name order, the training split the rest. Errors name the
  file and the fix: a caption file without an image, an image without captions, an empty caption.
  """
  image_dir, text_dir = os.path.join(root, _IMAGE_DIR), os.path.join(root, _TEXT_DIR)
  if not (os.path.isdir(image_dir) and os.path.isdir(text_dir)):
    raise ValueError(
      f'config.data.source_dir={root!r} needs the folders {_IMAGE_DIR}/ (the images) and {_TEXT_DIR}/'
      '<class>/<image name>.txt (one caption per line), as the CUB-200 and Oxford-102 caption '
      'releases are laid out.'
    )
  if image_size <= 0:
    raise ValueError(
      'captions from files need --config.data.image_size=S (> 0), the side of the images.'
    )
  images, texts = _files(image_dir, folders.EXTENSIONS), _files(text_dir, ('.txt',))
  for stem, path in texts.items():
    if stem not in images:
      raise ValueError(
        f'caption file {path} has no image {stem}.png/.jpg under {image_dir}: add the image or remove '
        'the caption file.'
      )
  for stem, path in images.items():
    if stem not in texts:
      raise ValueError(
        f'image {path} has no caption file {stem}.txt under {text_dir}/<class>/: write one (a caption '
        'per line) or remove the image.'
      )
  stems = [s for i, s in enumerate(sorted(images)) if (i % 10 == 9) == (split == 'test')]
  class_names = sorted({os.path.relpath(os.path.dirname(texts[s]), text_dir) for s in images})
  labels, captions, where, pixels = [], [], [], []
  for stem in stems:
    with open(texts[stem]) as f:
      lines = f.read().rstrip('\n').split('\n')
    for n, line in enumerate(lines):
      if not words(line):
        raise ValueError(
          f'{texts[stem]} line {n + 1} is an empty caption: delete the line or write a caption there.'
        )
    labels.append(class_names.index(os.path.relpath(os.path.dirname(texts[stem]), text_dir)))
    captions.append(lines)
    where.append([f'{texts[stem]} line {n + 1}' for n in range(len(lines))])
    pixels.append(folders.read_image(images[stem], (image_size, image_size, 3)))
  return np.stack(pixels), np.asarray(labels, np.int32), captions, where, class_names


def prepare_files(train_captions, class_names) -> Prepared:
  """Vocabulary of the training captions; C = the most captions an image has."""
  known = {word for lines in train_captions for line in lines for word in words(line)}
  return Prepared(Vocabulary(known), class_names, {}, max(len(lines) for lines in train_captions))


def file_captions(captions, where, prepared: Prepared, max_length: int) -> np.ndarray:
  """int32 [N, C, L]: each image's captions, repeated in turn up to C (``prepared.captions_per_image``)."""
  c = prepared.captions_per_image
  texts = [lines[i % len(lines)] for lines in captions for i in range(c)]
  places = [place[i % len(place)] for place in where for i in range(c)]
  tokens, _ = prepared.vocabulary.encode(texts, max_length, where=places)
  return tokens.reshape(len(captions), c, max_length)
