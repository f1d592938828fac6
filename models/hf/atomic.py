"""Crash-safe writes: a file, or a whole checkpoint folder, is replaced complete or not at all."""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Collection
from pathlib import Path

from models.errors import ModelError

Writer = Callable[[Path], None]  # writes one file at the path it is given


def write_file(target: Path, write: Writer) -> None:
    """Write through a sibling temporary file, flush it to disk, then rename it over `target`."""
    target = Path(target)
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        write(tmp)
        _user_mode(tmp)
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(target.parent)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        _reraise(e, target)


def write_folder(target: Path, files: dict[str, Writer], replaces: Collection[str] = ()) -> Path:
    """Write `files` into a sibling folder, flush it, then swap it in for `target` in one step.

    Whatever instant the process dies at, `target` is the old folder or the new one, complete.
    Files already in `target` that this write neither writes nor `replaces` are carried over
    (hard links), so saving into a folder never deletes what else the user keeps there.
    """
    target = Path(target)
    if target.is_symlink():  # swap the folder the link points to, and keep the user's link
        target = target.resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(f"{target}: cannot create the folder ({e.strerror or e})") from e
    if target.exists() and not target.is_dir():
        raise ModelError(f"{target}: a file of that name exists; choose a folder")
    recover(target)
    for stale in _leftovers(target):
        shutil.rmtree(stale, ignore_errors=True)
    staging = _sibling(target, "new")
    try:
        os.mkdir(staging)  # mode 0777 less the umask, as any folder the user makes
        for name, write in files.items():
            write(staging / name)
            _user_mode(staging / name)
            _fsync(staging / name)
        if target.exists():
            _carry_over(target, staging, set(files) | set(replaces))
        _fsync(staging)
        _swap_in(staging, target)
    except BaseException as e:
        shutil.rmtree(staging, ignore_errors=True)
        _reraise(e, target)
    return target


def recover(target: Path) -> None:
    """Put back the old folder if a process died between the two renames of the fallback swap.

    Read-only otherwise, so opening a folder never disturbs a save in progress beside it.
    """
    target = Path(target)
    if target.exists() or not target.parent.is_dir():
        return
    olds = [p for p in _leftovers(target) if p.name.endswith(".old")]
    if olds:  # the old folder is complete: it was the target until the first rename
        os.rename(olds[0], target)


def _leftovers(target: Path) -> list[Path]:
    """Sibling folders of earlier saves of `target` that died before they finished."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.[0-9a-f]{{8}}\.(new|old)$")
    return [p for p in target.parent.iterdir() if pattern.match(p.name)]


def _swap_in(staging: Path, target: Path) -> None:
    if not target.exists():
        os.rename(staging, target)
    elif _exchange(staging, target):  # one atomic step: staging now holds the old folder
        shutil.rmtree(staging)
    else:  # two renames; recover() restores the old folder if we die between them
        old = _sibling(target, "old")
        os.rename(target, old)
        os.rename(staging, target)
        shutil.rmtree(old)
    _fsync(target.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    fn = getattr(_libc(), "renameat2", None)
    if fn is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # this file system or kernel cannot: fall back to two renames
    raise OSError(err, os.strerror(err), str(b))


def _libc():
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL(None, use_errno=True)
        except (OSError, TypeError):  # Windows has no such C library: the fallback swap is used
            _LIBC = False
    return _LIBC


_LIBC = None


def _carry_over(old: Path, new: Path, owned: set[str]) -> None:
    for entry in old.iterdir():
        if entry.name in owned or (new / entry.name).exists():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, new / entry.name, symlinks=True)
        else:
            link_or_copy(entry, new / entry.name)


def copy_folder(source: Path, target: Path) -> Path:
    """`source`'s files written into `target` as `write_folder` writes (linked where it can)."""
    names = [p.name for p in Path(source).iterdir() if p.is_file()]
    return write_folder(
        target, {name: (lambda p, n=name: link_or_copy(Path(source) / n, p)) for name in names}
    )


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link (instant, no extra space), or a copy where the file system has none."""
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:
        shutil.copy2(source, target, follow_symlinks=False)


def _user_mode(path: Path) -> None:
    """Give a written file the mode a plain `open` would: some writers (safetensors) make 0600."""
    os.chmod(path, 0o666 & ~_umask())


def _umask() -> int:
    """The process umask, read without changing it (os.umask sets it: racy with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


_UMASK_LOCK = threading.Lock()


def _sibling(target: Path, kind: str) -> Path:
    return target.parent / f".{target.name}.{secrets.token_hex(4)}.{kind}"


def _fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries, to the disk before anything points at it."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if path.is_dir() else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:
        if path.is_dir():
            return  # Windows cannot open folders; its renames are already durable
        raise
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _reraise(e: BaseException, target: Path) -> None:
    """Any library's failure (OSError, SafetensorError, torch's RuntimeError) as one clear message."""
    if isinstance(e, ModelError) or not isinstance(e, Exception):
        raise e  # already clear, or KeyboardInterrupt/SystemExit: let it through
    if isinstance(e, OSError):
        reason = e.strerror or str(e)
    else:
        first = str(e).strip().splitlines()
        reason = f"{type(e).__name__}: {first[0] if first else 'no details'}"
    raise ModelError(f"{target}: could not write ({reason}); the previous copy, if any, is kept") from e
