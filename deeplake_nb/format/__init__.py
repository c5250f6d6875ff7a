"""How tensors sit on Zarr v3: htypes, sample and chunk compression, columns, metadata."""
