"""Pre-training methods (SimSiam, BYOL, SimCLR, NNCLR) and their trainer."""
