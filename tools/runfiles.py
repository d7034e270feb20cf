"""Files a recorded run names (``trajectory.json``, ``steps.jsonl``, ``step_NNN.png``), opened as untrusted input.

A trajectory someone sends you is not trusted: its screenshot names could be absolute
paths, ``../`` paths or symlinks out of the run folder, FIFOs that block a reader for ever,
devices, or tiny PNGs that decode to gigabytes. Every reader of a run folder (`guiagent
view`, `guiagent replay`, ``--env replay:DIR``, the ``replay:`` model) goes through this
one module, so the rules hold everywhere:

- a name is a relative path below the run folder, without ``..``, and no part of it is
  a symlink (checked with ``lstat``; the last part is opened with ``O_NOFOLLOW``);
- only regular files are read (opened with ``O_NONBLOCK`` and checked with ``fstat``,
  so a FIFO or a device fails at once instead of hanging);
- an image's size is read from its header (PIL decodes lazily) and refused above
  `MAX_IMAGE_PIXELS` before a single pixel is decoded.

It lives in `tools/` because envs, model and agent all read run folders and `tools/` is
the one layer they share.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import warnings
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from PIL import Image as PILImage
    from PIL.Image import Image

# 8192 x 8192: above every screen a run records (8K UHD is 7680 x 4320, three 4K monitors 11520 x 2160)
# and a decoded RGB copy of 192 MiB at most; a 13000 x 13000 1-bit PNG (a few KB on disk) is refused.
MAX_IMAGE_PIXELS = 8192 * 8192
MAX_IMAGE_SIDE = 32768
# trajectory.json of a 10,000-step run is ~30 MB; anything far larger is not a trajectory.
MAX_JSON_BYTES = 512 * 1024 * 1024
TRAJECTORY_FILE = "trajectory.json"
STEPS_FILE = "steps.jsonl"


class RunFileError(ValueError):
    """A file a run names is unsafe or unreadable; the message is one line naming the file."""


class UnsafeRunFile(RunFileError):
    """The name points outside the run folder, through a symlink, or at a FIFO/device: never read."""


class RunFileMissing(RunFileError):
    """The named file does not exist (a run killed before it was written): safe, but absent."""


def run_file(run_dir: str | Path, name: object) -> Path:
    """The path of `name` inside `run_dir`, checked: RunFileError unless it is a plain file name below the folder.

    The run folder itself is what the user typed and is trusted; everything below it is
    not. Raises `RunFileMissing` when the name is safe but nothing is there.
    """
    base = Path(run_dir)
    if not isinstance(name, str) or not name or "\x00" in name or "\\" in name:
        raise UnsafeRunFile(f"{base}: recorded file name {name!r} is not a plain relative file name")
    parts = PurePosixPath(name).parts
    if PurePosixPath(name).is_absolute() or any(p in ("..", ".") for p in parts) or not parts:
        raise UnsafeRunFile(f"{base}: recorded file name {name!r} points outside the run folder; refused")
    path = base
    for i, part in enumerate(parts):
        path = path / part
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise RunFileMissing(f"{path}: missing") from None
        except OSError as exc:
            raise RunFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        if stat.S_ISLNK(st.st_mode):
            raise UnsafeRunFile(f"{path}: is a symlink; a run folder's files must be inside it, refused")
        last = i == len(parts) - 1
        if not last and not stat.S_ISDIR(st.st_mode):
            raise UnsafeRunFile(f"{path}: is not a folder")
        if last and not stat.S_ISREG(st.st_mode):
            raise UnsafeRunFile(f"{path}: is not a regular file (a FIFO, device or folder); refused")
    return path


def open_run_file(run_dir: str | Path, name: object) -> BinaryIO:
    """Open `name` inside `run_dir` for reading, with the checks of `run_file` (and no race past them)."""
    path = run_file(run_dir, name)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a symlink since the lstat
            raise UnsafeRunFile(f"{path}: is a symlink; refused") from None
        raise RunFileError(f"{path}: cannot be opened ({exc.strerror or exc})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped for a FIFO/device since the lstat
            raise UnsafeRunFile(f"{path}: is not a regular file; refused")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_run_text(run_dir: str | Path, name: str, limit: int = MAX_JSON_BYTES) -> str:
    """The UTF-8 text of `name` inside `run_dir` (RunFileError when unsafe, too large or not UTF-8)."""
    with open_run_file(run_dir, name) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise RunFileError(f"{Path(run_dir) / name}: larger than {limit // (1024 * 1024)} MiB; not a trajectory")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunFileError(f"{Path(run_dir) / name}: not UTF-8 text ({exc})") from None


def check_image_size(width: int, height: int, where: str | Path) -> None:
    """RunFileError when a `width` x `height` image is above the decoding cap."""
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise RunFileError(f"{where}: image is {width}x{height}, above the {MAX_IMAGE_PIXELS:,}-pixel cap "
                           f"(8192x8192) guiagent decodes; refused")


def _open_image(fh: BinaryIO) -> PILImage.Image:
    """PIL's lazy open, without its own bomb warning (the caller applies the stricter cap of this module)."""
    from PIL import Image as PILImage

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
        return PILImage.open(fh)


def check_run_image(run_dir: str | Path, name: object) -> tuple[int, int]:
    """The (width, height) of the image `name` inside `run_dir` from its header, after every check; decodes nothing."""
    from PIL import Image as PILImage

    where = Path(run_dir) / str(name)
    with open_run_file(run_dir, name) as fh:
        try:
            with _open_image(fh) as im:
                check_image_size(im.width, im.height, where)
                return im.width, im.height
        except RunFileError:
            raise
        except (OSError, ValueError, SyntaxError, PILImage.DecompressionBombError) as exc:
            raise RunFileError(f"{where}: not a readable image ({type(exc).__name__}: {exc})") from None


def read_run_image(run_dir: str | Path, name: object) -> Image:
    """Decode the image `name` inside `run_dir` as RGB, after the path checks and the header's size check."""
    from PIL import Image as PILImage

    with open_run_file(run_dir, name) as fh:
        where = Path(run_dir) / str(name)
        try:
            with _open_image(fh) as im:  # lazy: reads the header only
                check_image_size(im.width, im.height, where)
                im.load()
                rgb: Image = im.convert("RGB")
                return rgb
        except RunFileError:
            raise
        except (OSError, ValueError, SyntaxError, PILImage.DecompressionBombError) as exc:
            raise RunFileError(f"{where}: not a readable image ({type(exc).__name__}: {exc})") from None


def read_run_record(run_dir: str | Path) -> dict[str, Any]:
    """The recorded run in `run_dir` as plain JSON data: ``trajectory.json`` with its ``steps`` list filled in.

    Schema 1 keeps the steps inside ``trajectory.json``; schema 2 keeps the run's metadata and
    ending there and appends one step per line to ``steps.jsonl``. A last line without its
    newline is a step whose write was cut short (a crash, a full disk) and is not a step.
    Raises `RunFileError` (unsafe, missing, too large) or ValueError (not JSON); the caller
    validates the fields.
    """
    data = json.loads(read_run_text(run_dir, TRAJECTORY_FILE))
    if not isinstance(data, dict) or data.get("schema_version") != 2:
        return data if isinstance(data, dict) else {"schema_version": None}
    try:
        text = read_run_text(run_dir, STEPS_FILE)
    except RunFileMissing:
        text = ""  # a run killed between its two first writes
    lines = text.split("\n")[:-1]  # the part after the last newline is a torn (or no) line
    steps: list[Any] = []
    for i, line in enumerate(lines, 1):
        try:
            steps.append(json.loads(line))
        except ValueError as exc:
            raise ValueError(f"{Path(run_dir) / STEPS_FILE}: line {i}: {exc}") from None
    data["steps"] = steps
    return data
