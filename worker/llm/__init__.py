"""Language models: weights.py (where the weights are, SmolLM2's GGUF conversion), loading.py (device,
dtype, attention), options.py (GenerateOptions, light), generate.py (chat generation), status.py (the
model-free rows of GET /api/v2/models/status). The one owner of loaded models is models.ModelManager."""
