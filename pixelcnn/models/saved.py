"""What every model here saves and loads through: the Hub mixin, with the model's class named in
config.json (diffusers' `_class_name` convention), so that `pixelcnn.load` need not guess."""

from huggingface_hub import PyTorchModelHubMixin

CLASS_KEY = "_class_name"


class Saved(PyTorchModelHubMixin):
    """PyTorchModelHubMixin whose `save_pretrained` also writes the class's name into config.json
    (from_pretrained passes only the constructor's keywords on, so the name never reaches them)."""

    def save_pretrained(self, save_directory, *, config: dict | None = None, **kwargs):
        config = {**(config or self._hub_mixin_config or {}), CLASS_KEY: type(self).__name__}
        return super().save_pretrained(save_directory, config=config, **kwargs)
