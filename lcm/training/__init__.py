"""Training: the loop, fine-tuning from an exported model, checkpoints, DDP/FSDP2 plumbing, SLURM, loss-curve plots."""
