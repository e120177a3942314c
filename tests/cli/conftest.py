# The spoken question and the drawn sign are shared with the runtime tests.
from tests.runtime.conftest import sign_image, spoken_question  # noqa: F401
