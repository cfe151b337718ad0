"""Captions (``gans.data.captions``): the measured attributes are the formulas, captions are a
deterministic function of the image whose words state its measured attributes, tokens round-trip, the
caption-folder loader reads the CUB/Oxford-102 layout, and bad captions are refused with the fix."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image
import pytest

from gans import config_lib
from gans.data import captions, datasets


def _data_config(idx_dir, tfds_dir, **fields):
  config = config_lib.load_recipe(
    os.path.join(os.path.dirname(__file__), '..', 'configs/gancls.py')
  )
  config.data.source_dir, config.data.tfds_dir = idx_dir, tfds_dir
  config.data.update(fields)
  return config.data


def test_the_measured_attributes_are_the_formulas():
  images = np.zeros((2, 8, 8, 1), np.float32)
  images[0, 2:6, 1:4] = 0.5  # A 4×3 rectangle: width 3/8 in each of its rows, no texture inside.
  images[1, 1:7, 1:7] = 0.4
  images[1, 1:7:2, 1:7] = 0.8  # Stripes: texture inside, wider.
  values = captions.measure(images)
  np.testing.assert_allclose(values['brightness'], [0.5, 0.6], rtol=1e-6)
  np.testing.assert_allclose(values['width'], [3 / 8, 6 / 8], rtol=1e-6)
  assert values['texture'][0] == 0
  # Interior of the 6×6 square: rows 2-5, columns 2-5; each has an x-step 0 and a y-step ±0.4.
  np.testing.assert_allclose(values['texture'][1], 0.16, rtol=1e-5)
  # uint8 pixels measure as the same images in [0, 1].
  as_bytes = captions.measure(np.round(images * 255).astype(np.uint8))
  np.testing.assert_allclose(as_bytes['brightness'], values['brightness'], atol=2e-3)


def test_captions_are_deterministic_and_state_the_measured_attributes(idx_dir, tfds_dir):
  data = _data_config(idx_dir, tfds_dir)
  train = datasets.load_split(data, 'train')
  again = datasets.load_split(data, 'train')
  np.testing.assert_array_equal(train['caption'], again['caption'])
  prepared = datasets.prepared_captions(data)
  assert os.path.exists(os.path.join(datasets.cache_dir(data, 'captions'), 'vocabulary.txt'))
  num, c, length = train['caption'].shape
  assert (c, length) == (len(captions.TEMPLATES), data.max_caption_length)
  texts = prepared.vocabulary.decode(train['caption'].reshape(num * c, length))
  labels = np.repeat(train['label'], c)
  measured = np.repeat(
    captions.bins(captions.measure(train['image']), train['label'], prepared.thresholds), c, 0
  )
  np.testing.assert_array_equal(captions.caption_classes(texts, prepared.class_names), labels)
  stated = captions.caption_bins(texts)
  assert (stated >= 0).sum() > num * c  # Templates state 1-2 attributes each.
  np.testing.assert_array_equal(stated[stated >= 0], measured[stated >= 0])
  # 'light', 'wide', 'patterned' exactly when above the median of the image's class.
  values = captions.measure(train['image'])
  for a, name in enumerate(captions.ATTRIBUTES):
    medians = {k: np.median(values[name][train['label'] == k]) for k in set(train['label'])}
    above = np.array([v > medians[k] for v, k in zip(values[name], train['label'])])
    np.testing.assert_array_equal(measured[::c, a], above)
  # The medians split each class: both words of each attribute occur.
  for a in range(len(captions.ATTRIBUTES)):
    assert set(stated[:, a]) == {-1, 0, 1}
  # The test split reads the training split's vocabulary and medians.
  test = datasets.load_split(data, 'test')
  test_texts = prepared.vocabulary.decode(test['caption'][:, 0])
  test_bins = captions.bins(captions.measure(test['image']), test['label'], prepared.thresholds)
  np.testing.assert_array_equal(captions.caption_bins(test_texts)[:, :2], test_bins[:, :2])
  # Agreement of the real images with their own captions is 1.
  agreement = captions.attribute_agreement(
    test['image'], test_texts, prepared.class_names, prepared.thresholds
  )
  assert agreement == {'attribute_brightness': 1.0, 'attribute_width': 1.0, 'attribute_mean': 1.0}


def test_tokens_round_trip_to_the_words():
  vocabulary = captions.attribute_vocabulary(captions.CLASS_NAMES['fashion_mnist'])
  texts = [
    'A light, wide DRESS',
    'this ankle boot is dark and plain.',
    'a t-shirt that looks light',
  ]
  tokens, unknown = vocabulary.encode(texts, 8)
  assert tokens.shape == (3, 8) and tokens.dtype == np.int32 and not unknown
  assert vocabulary.decode(tokens) == [' '.join(captions.words(t)) for t in texts]
  assert vocabulary.decode(tokens)[2] == 'a t-shirt that looks light'
  assert (tokens[0, 4:] == captions.PAD).all()
  table = captions.caption_table(captions.CLASS_NAMES['fashion_mnist'], vocabulary, 8)
  flat = [
    captions.caption(t, n, b)
    for n in captions.CLASS_NAMES['fashion_mnist']
    for b in captions.all_bins()
    for t in captions.TEMPLATES
  ]
  assert vocabulary.decode(table.reshape(-1, 8)) == [' '.join(captions.words(t)) for t in flat]
  # Unknown words: <unk> in data, refused by name when asked to sample from them.
  tokens, unknown = vocabulary.encode(['a purple dress'], 8)
  assert unknown == ['purple'] and tokens[0, 1] == captions.UNK
  with pytest.raises(ValueError, match="'purple' not in the vocabulary"):
    vocabulary.encode(['a dark sneaker', 'a purple dress'], 8, unknown='refuse')
  with pytest.raises(ValueError, match='caption 2 .* is empty'):
    vocabulary.encode(['a dark sneaker', ' , '], 8)
  with pytest.raises(ValueError, match='raise --config.data.max_caption_length to at least 9'):
    vocabulary.encode(['a b c d e f g h i'], 8)


def _write_folder(root, classes=('001.albatross', '002.wren'), per_class=6, lines=3):
  """images/<class>/<stem>.png (8×8 RGB) and text/<class>/<stem>.txt with ``lines`` captions (one
  image with one caption fewer)."""
  rng = np.random.default_rng(0)
  for k, name in enumerate(classes):
    os.makedirs(os.path.join(root, 'images', name), exist_ok=True)
    os.makedirs(os.path.join(root, 'text', name), exist_ok=True)
    for i in range(per_class):
      stem = f'{name[4:]}_{i:02d}'
      pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
      Image.fromarray(pixels).save(os.path.join(root, 'images', name, f'{stem}.png'))
      count = lines - 1 if i == 0 else lines
      with open(os.path.join(root, 'text', name, f'{stem}.txt'), 'w') as f:
        f.write(
          ''.join(f'this bird {k} has a {"red" if j else "grey"} crown {i}\n' for j in range(count))
        )
  return root


def test_the_caption_folder_loader_reads_the_cub_layout(tmp_path):
  root = _write_folder(str(tmp_path / 'cub'))
  data = _data_config('', str(tmp_path / 'tfds'), captions='files', source_dir=root, image_size=8)
  data.max_caption_length = 8
  train, test = datasets.load_split(data, 'train'), datasets.load_split(data, 'test')
  assert (len(train), len(test)) == (11, 1)  # Every 10th in name order is a test example.
  assert train['image'].shape == (11, 8, 8, 3) and train['caption'].shape == (11, 3, 8)
  prepared = datasets.prepared_captions(data)
  assert prepared.class_names == ('001.albatross', '002.wren') and prepared.captions_per_image == 3
  first = prepared.vocabulary.decode(train['caption'][0])  # albatross_00: two captions, repeated.
  assert first == [
    'this bird 0 has a grey crown 0',
    'this bird 0 has a red crown 0',
    'this bird 0 has a grey crown 0',
  ]
  np.testing.assert_array_equal(train['label'], [0] * 6 + [1] * 5)
  stem_image = np.asarray(Image.open(os.path.join(root, 'images', '002.wren', 'wren_03.png')))
  np.testing.assert_array_equal(test['image'][0], stem_image)


def test_bad_caption_folders_are_refused_naming_the_file_and_the_fix(tmp_path):
  root = _write_folder(str(tmp_path / 'cub'), per_class=2)
  orphan = os.path.join(root, 'text', '002.wren', 'wren_09.txt')
  with open(orphan, 'w') as f:
    f.write('a caption\n')
  with pytest.raises(
    ValueError, match=r'caption file .*wren_09.txt has no image wren_09.png.*add the image'
  ):
    captions.read_caption_folder(root, 'train', 8, 8)
  os.remove(orphan)
  path = os.path.join(root, 'text', '001.albatross', 'albatross_01.txt')
  with open(path, 'w') as f:
    f.write('a fine bird\n\nanother\n')
  with pytest.raises(
    ValueError, match='albatross_01.txt line 2 is an empty caption: delete the line'
  ):
    captions.read_caption_folder(root, 'train', 8, 8)
  with open(path, 'w') as f:
    f.write('a very long caption of this bird with many words\n')
  data = _data_config('', str(tmp_path / 'tfds'), captions='files', source_dir=root, image_size=8)
  data.max_caption_length = 8
  with pytest.raises(ValueError, match='albatross_01.txt line 1 has 10 words.*at least 10'):
    datasets.load_split(data, 'train')
