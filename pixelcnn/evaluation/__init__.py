"""Measuring a trained model: the `evaluate` command's body, the small judge classifier, realism and
variety of drawings (`realism`, `quality`), calibration of the model as a classifier, the
portraits' identity rate, completions, the auto-encoders' kept share, the settings swept, and the
model cards that report them."""
