"""The versioned-artifact store: atomic publish, temp folders of dead writers, the writer
lock (timeouts, a killed holder), pruning, removal and atomic pointer moves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from core.artifacts import (
    LOCK_FILE,
    StoreLock,
    StoreLockedError,
    VersionFormat,
    VersionStore,
    write_atomic,
)
from core.errors import AssistantError

ROOT = Path(__file__).resolve().parents[2]
V4 = VersionFormat(prefix="v", width=4)

# A child process that starts building a version (and, with "lock", takes the lock),
# announces it, and waits to be killed.
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from core.artifacts import VersionFormat, VersionStore

    store = VersionStore(Path(sys.argv[1]), VersionFormat(width=4))
    tmp = store.new_temp()
    (tmp / "weights.bin").write_bytes(b"half written")
    lock = store.lock()  # kept: a dropped FileLock releases itself
    if sys.argv[2] == "lock":
        lock.acquire()
    print("READY", tmp.name, flush=True)
    time.sleep(600)
    """
)


def start_child(root: Path, mode: str) -> tuple[subprocess.Popen, str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(root), mode], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    line = child.stdout.readline().split()
    if line[:1] != ["READY"]:
        child.kill()
        child.wait(timeout=30)
        raise AssertionError(child.stderr.read())
    return child, line[1]


def kill(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)  # reaped: no zombie left to look alive


def publish_one(store: VersionStore, payload: str = "x") -> Path:
    tmp = store.new_temp()
    (tmp / "data.txt").write_text(payload)
    with store.lock():
        return store.publish(tmp, store.next_number())


# ---- names ----------------------------------------------------------------------------


def test_version_format_names_and_parses():
    v6 = VersionFormat(prefix="v", width=6)
    assert v6.name(3) == "v000003" and V4.name(12) == "v0012" and V4.name(12345) == "v12345"
    assert v6.number("v000003") == 3 and V4.number("v12345") == 12345
    for not_a_version in ("v003", "v0003x", "x0003", ".v0003", "v-001", "0003", "V0003"):
        assert V4.number(not_a_version) is None, not_a_version
    assert v6.number("v0003") is None  # too few digits for this store
    for bad in (0, -1, True, 1.0):
        with pytest.raises(ValueError, match="integer >= 1"):
            V4.name(bad)
    with pytest.raises(ValueError, match="prefix"):
        VersionFormat(prefix=".v")
    with pytest.raises(ValueError, match="width"):
        VersionFormat(width=0)
    with pytest.raises(ValueError, match="temp_prefix"):
        VersionStore(Path("x"), V4, temp_prefix="building-")


# ---- publishing -------------------------------------------------------------------------


def test_publish_numbers_versions_and_only_whole_ones_are_visible(tmp_path):
    store = VersionStore(tmp_path / "art", V4)
    assert store.numbers() == [] and store.next_number() == 1  # no folder yet
    tmp = store.new_temp()
    assert tmp.parent == store.root and tmp.name.startswith(f".building-{os.getpid()}-")
    (tmp / "sub").mkdir()
    (tmp / "sub" / "a.txt").write_text("a")
    assert store.numbers() == []  # a build in progress is no version
    with store.lock():
        path = store.publish(tmp, store.next_number())
    assert path == tmp_path / "art" / "v0001" and not tmp.exists()
    assert (path / "sub" / "a.txt").read_text() == "a"
    publish_one(store)
    assert store.numbers() == [1, 2] and store.next_number() == 3
    assert store.next_number(floor=7) == 8  # a number handed out before never comes back
    (store.root / "v0009").write_text("a file, not a version")
    (store.root / "v9").mkdir()  # too few digits
    assert store.numbers() == [1, 2]


def test_publish_refuses_an_existing_version_and_changes_nothing(tmp_path):
    store = VersionStore(tmp_path, V4)
    publish_one(store, "first")
    tmp = store.new_temp()
    (tmp / "data.txt").write_text("second")
    with pytest.raises(FileExistsError, match="v0001"):
        store.publish(tmp, 1)
    assert (store.path(1) / "data.txt").read_text() == "first" and tmp.is_dir()
    store.discard(tmp)
    assert not tmp.exists()


def test_a_writer_killed_mid_build_leaves_nothing_visible_and_its_temp_is_cleaned(tmp_path):
    store = VersionStore(tmp_path, V4)
    publish_one(store)
    child, temp_name = start_child(tmp_path, "build")
    try:
        assert store.clean_temps() == []  # its owner is alive: left alone
        assert (tmp_path / temp_name).is_dir()
    finally:
        kill(child)
    assert store.numbers() == [1]  # the half-built version never became one
    mine = store.new_temp()  # a live writer's (this process's) temp is kept
    legacy = tmp_path / ".building-0f3a9c"  # no pid in the name: counts as dead
    legacy.mkdir()
    trash = tmp_path / ".deleting-999999999-abc"  # a removal that died midway
    trash.mkdir()
    removed = store.clean_temps()
    assert sorted(removed) == sorted([temp_name, legacy.name, trash.name])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, "v0001", LOCK_FILE])
    assert store.clean_temps(dead_only=False) == [mine.name]  # the lock holder's sweep
    assert publish_one(store).name == "v0002"


# ---- the lock ---------------------------------------------------------------------------


def test_second_writer_times_out_naming_the_holder(tmp_path):
    path = tmp_path / LOCK_FILE
    first = StoreLock(path)
    first.acquire()
    assert first.held and path.read_text().strip() == str(os.getpid())
    second = StoreLock(path)
    started = time.monotonic()
    with pytest.raises(StoreLockedError, match=rf"locked by process {os.getpid()}") as err:
        second.acquire(timeout=0.3)
    assert time.monotonic() - started >= 0.3
    assert err.value.holder == os.getpid() and err.value.path == path
    assert isinstance(err.value, AssistantError) and not second.held
    with pytest.raises(StoreLockedError):
        second.acquire(timeout=0)  # 0: one try, no wait
    with pytest.raises(RuntimeError, match="already held"):
        first.acquire()
    first.release()
    first.release()  # idempotent
    assert path.exists() and path.read_text() == ""  # never deleted; no stale pid
    with second:
        assert second.held
    assert not second.held


def test_threads_wait_for_each_other(tmp_path):
    path = tmp_path / LOCK_FILE
    inside, order = threading.Lock(), []

    def work(i: int) -> None:
        with StoreLock(path, timeout=30):
            assert inside.acquire(blocking=False), "two holders at once"
            order.append(i)
            time.sleep(0.02)
            inside.release()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(order) == list(range(5))


def test_a_killed_holders_lock_is_free(tmp_path):
    store = VersionStore(tmp_path, V4)
    child, _ = start_child(tmp_path, "lock")
    try:
        with pytest.raises(StoreLockedError, match=rf"process {child.pid}\b"):
            store.lock().acquire(timeout=0.2)
    finally:
        kill(child)
    with store.lock(timeout=0):  # the kernel dropped the dead holder's flock
        assert store.clean_temps() and store.next_number() == 1


# ---- pruning, removal, pointers ---------------------------------------------------------


def test_prune_keeps_the_live_version_newer_ones_and_the_newest_older_ones(tmp_path):
    store = VersionStore(tmp_path, V4)
    for _ in range(6):
        publish_one(store)
    with store.lock():
        assert store.prune(keep=2, below=5) == [1, 2]
        assert store.numbers() == [3, 4, 5, 6]
        assert store.prune(keep=2, below=5) == []
        assert store.prune(keep=0, below=6) == [3, 4, 5]
    assert store.numbers() == [6]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".deleting-")]
    assert publish_one(store).name == "v0007"


def test_remove_makes_a_version_vanish_at_once(tmp_path):
    store = VersionStore(tmp_path, V4)
    publish_one(store)
    with store.lock():
        store.remove(1)
        with pytest.raises(FileNotFoundError):
            store.remove(1)
    assert store.numbers() == [] and sorted(p.name for p in tmp_path.iterdir()) == [LOCK_FILE]


def test_pointer_moves_are_atomic(tmp_path):
    pointer = tmp_path / "CURRENT"
    write_atomic(pointer, "v000001\n")
    assert pointer.read_text() == "v000001\n"
    seen: set[str] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.add(pointer.read_text())

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(300):
            write_atomic(pointer, f"v{i % 2 + 1:06d}\n")
    finally:
        stop.set()
        thread.join()
    assert seen <= {"v000001\n", "v000002\n"}  # never empty, never half a name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CURRENT"]  # no temp file left


def test_a_failed_pointer_move_keeps_the_old_pointer(tmp_path, monkeypatch):
    pointer = tmp_path / "state.json"
    write_atomic(pointer, '{"promoted": 1}\n')

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_atomic(pointer, '{"promoted": 2}\n')
    assert pointer.read_text() == '{"promoted": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
