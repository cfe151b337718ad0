"""Offline evaluation: feature extractors, sample-quality metrics and mode coverage."""

from gans.evaluation.classifier import (
  Classifier,
  ClassifierFeatureExtractor,
  FeatureExtractor,
  get_feature_extractor,
  load_or_train_classifier,
  register_feature_extractor,
  train_classifier,
)
from gans.evaluation.metrics import (
  GaussianStatistics,
  class_conditional_accuracy,
  classifier_score,
  density_coverage,
  fid,
  fid_from_statistics,
  frechet_distance,
  gaussian_statistics,
  kid,
  precision_recall,
)
from gans.evaluation.mode_coverage import kl_to_uniform, mode_coverage, stacked_mode_coverage

__all__ = (
  'Classifier',
  'ClassifierFeatureExtractor',
  'FeatureExtractor',
  'GaussianStatistics',
  'class_conditional_accuracy',
  'classifier_score',
  'density_coverage',
  'fid',
  'fid_from_statistics',
  'frechet_distance',
  'gaussian_statistics',
  'get_feature_extractor',
  'kid',
  'kl_to_uniform',
  'load_or_train_classifier',
  'mode_coverage',
  'precision_recall',
  'register_feature_extractor',
  'stacked_mode_coverage',
  'train_classifier',
)
