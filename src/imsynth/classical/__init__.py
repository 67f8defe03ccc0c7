"""Classical synthesis: numpy in, numpy out (float [0, 1], HxW or HxWxC; masks True = hole)."""
