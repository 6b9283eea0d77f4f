"""Language detection for --src-lang auto, on the real example texts."""

import os

import pytest

from encoders.errors import InputError
from encoders.languages import detect_language

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples")


@pytest.mark.parametrize("name, flores", [("prodigal_son.en.txt", "eng_Latn"), ("prodigal_son.de.txt", "deu_Latn"),
                                          ("prodigal_son.fr.txt", "fra_Latn"), ("ruth_1.en.txt", "eng_Latn")])
def test_detects_the_example_texts(name, flores):
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as f:
        assert detect_language(f.read()) == flores


def test_detects_scripts_and_refuses_what_it_cannot_tell():
    assert detect_language("他回到家里，父亲很高兴。他的哥哥在田里。") == "zho_Hans"
    assert detect_language("A fiú hazatért, és az apja nagyon örült neki.") == "hun_Latn"
    for unclear in ["ok", "12345 678 90"]:
        with pytest.raises(InputError, match="--src-lang"):
            detect_language(unclear)
