"""Secrets in files: the artifact ``paycheck bill --save`` writes, and the ones commands read.

The file for a new artifact is created *before* the bill is asked for, exclusively and with mode
0600: if it cannot be created (it exists, the folder is missing) no bill is made, so the
artifact, which the server shows only once, is never lost to a failed write.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from ._inputs import InputError

__all__ = ["ArtifactFile", "read_secret"]

_MAX_SECRET_FILE = 4096  # an artifact is 53 characters; anything larger is the wrong file


class ArtifactFile:
    """A new file, readable and writable by its owner only, that will hold one artifact.

    Example::

        target = ArtifactFile.create(Path("artifact.txt"))
        try:
            bill = client.create_bill(...)
        except BaseException:
            target.discard()
            raise
        target.write(bill.payment_artifact)

    Raises:
        InputError: from :meth:`create`, when the file exists or cannot be created.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @classmethod
    def create(cls, path: Path) -> ArtifactFile:
        """Create ``path`` with mode 0600; refuse if anything (even a symlink) is there."""
        try:
            # O_EXCL also refuses a symlink planted at path, dangling or not.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise InputError(
                f"--save: refusing to overwrite {path}, it already exists; choose a new file "
                f"name (nothing was billed)"
            ) from None
        except OSError as exc:
            raise InputError(
                f"--save: cannot create {path}: {exc.strerror} (nothing was billed)"
            ) from None
        return cls(path, fd)

    def write(self, artifact: str) -> None:
        """Write the artifact and a newline, then close the file.

        Raises:
            OSError: the write failed (the caller still holds the artifact and must show it).
        """
        try:
            data = (artifact + "\n").encode("ascii")
            while data:
                data = data[os.write(self._fd, data) :]
        finally:
            os.close(self._fd)

    def discard(self) -> None:
        """Close and delete the still empty file (the bill was not made)."""
        os.close(self._fd)
        self.path.unlink(missing_ok=True)


def read_secret(path: str, *, stdin: TextIO) -> str:
    """The content of ``path`` (``-`` reads stdin), for a secret that is checked afterwards.

    Raises:
        InputError: the file cannot be read or is too large to hold a secret.
    """
    if path == "-":
        text, where = stdin.read(_MAX_SECRET_FILE + 1), "stdin"
    else:
        try:
            with open(path, encoding="utf-8") as file:
                text, where = file.read(_MAX_SECRET_FILE + 1), path
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "it is not text"
            raise InputError(f"cannot read {path}: {why}") from None
    if len(text) > _MAX_SECRET_FILE:
        raise InputError(f"{where} is too large to hold a secret; is it the right file?")
    return text
