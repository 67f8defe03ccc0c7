"""The bottom torch layer every package may use: device and precision selection, the models' tensor
convention, and run directories (safetensors + JSON I/O, resume state, metrics)."""
