"""The concept model: backbone, concept model and build_model, normalizer, heads protocol and MSE head, exported-model
files (io.py) and architecture presets."""
