import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

BACKEND = keras.backend.backend()

# CI: bounded examples, no deadline (backends compile on first call). JAX and PyTorch
# recompile for every new shape, so they draw fewer examples than TensorFlow.
settings.register_profile(
    "ci",
    max_examples=12 if BACKEND == "tensorflow" else 6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
settings.register_profile(
    "dev",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend {BACKEND}"
