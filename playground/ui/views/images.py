"""Views of MNIST-like image classifiers: the prediction gallery, the confusion matrix, the drawing pad."""

from .confusion import ConfusionMatrixView
from .draw import DrawDigitView
from .gallery import PredictionGallery

IMAGE_VIEWS = (PredictionGallery, ConfusionMatrixView, DrawDigitView)

__all__ = ["IMAGE_VIEWS", "ConfusionMatrixView", "DrawDigitView", "PredictionGallery"]
