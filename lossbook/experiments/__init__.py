"""What the book's experiments need and a library user does not.

Synthetic data sets, small fitters (gradient descent on a line, a linear SVM,
AdaBoost), loss landscapes, and the training loops of the chapters'
experiments. The losses themselves live at the top level of :mod:`lossbook`;
these helpers only call them.

Modules are imported on demand (``from lossbook.experiments.datasets import
two_blobs``), so importing :mod:`lossbook` stays light.
"""
