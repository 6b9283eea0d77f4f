"""What every package of the toolkit shares and that imports nothing of ours but encoders.errors: atomic writes
(`atomic`), recipe loading (`recipes`) and the training helpers of the codec and LCM trainers (`training`).

They live under encoders/ because encoders is the bottom of the dependency graph: lcm, diffusion_head and
quantized_head may import it, and it imports none of them.
"""
