"""The objects users hold: Dataset, Tensor, and the functions that open them."""
