"""Set up a Google Colab runtime for the book's PyTorch chapters (the first cell of each notebook runs this).

The cell clones the book to `/content/seeing-and-saying` and runs this file there (runpy), on Colab only. It
installs `requirements-colab.txt` (the pins of `requirements.txt` without Theano, Lasagne and the build tools,
with the one NumPy that has wheels for Colab's Python, resolved by tests/test_hosted.py) and the book's
`helpers`, once (a marker file remembers it). If NumPy, PyTorch, ... were already imported, it asks for a
runtime restart. Then the notebook runs from the book's notebooks/ folder. The Set-up page explains.
"""

import os
import subprocess
import sys

BOOK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOADED = {"numpy", "scipy", "pandas", "matplotlib", "PIL", "torch", "sklearn"}


def main() -> None:
    stamp = os.path.join(BOOK, ".colab-installed")
    if not os.path.exists(stamp):
        pip = [sys.executable, "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "-r", os.path.join(BOOK, "requirements-colab.txt")], check=True)
        # pyproject.toml asks for Python 3.11 (the whole book, Theano included); the PyTorch chapters install
        # on Colab's Python as requirements-colab.txt says.
        subprocess.run([*pip, "--no-deps", "--ignore-requires-python", "-e", BOOK], check=True)
        open(stamp, "w").close()
        if LOADED & set(sys.modules):
            raise SystemExit(
                "Installed. Now Runtime > Restart session, then run the notebook again from the top "
                "(this cell then skips the installation)."
            )
    sys.path.insert(0, BOOK)
    os.chdir(os.path.join(BOOK, "notebooks"))


if __name__ == "__main__":
    main()
