"""Every notebook under book/ re-executes alone, offline, to its stored outputs, on every CPU kernel this machine has.

torch picks its CPU kernels at run time by the processor's vector width (``ATEN_CPU_CAPABILITY``: AVX-512, AVX2
or the portable ``default`` on x86-64), and a float32 reduction's last bits also change with the number of
threads that split it. A stored output that depends on either (a count of last-bit differences, a float32 sum
printed to six digits) passes on the machine that stored it and fails on a reader's laptop. So this test runs
every notebook under each configuration of ``CONFIGURATIONS``:

- the portable ``default`` kernels with one thread;
- ``avx2`` and ``avx512`` with all threads, where the CPU has them and they are not the native one: in the 'long'
  test profile only (``TEST_PROFILE=long``). CI's budget keeps the two ends, the portable kernels here and the
  native, widest ones in ``pytest --nbval book``; the intermediate width runs in the exhaustive profile.

The machine's native capability with all its threads is the configuration ``pytest --nbval book`` runs, in the
same test command, so it is not run a second time here (on a machine whose only kernels are the portable ones it
is, with all threads, when that differs from one thread).

Each configuration is checked inside the kernel (an extra probe cell reads back torch's capability and thread
count), so an environment that did not reach the kernel fails the test instead of passing it vacuously.

``pytest --nbval book`` runs each chapter once more, in place. Here every run is isolated:

- in a fresh kernel (one ``nbclient`` client per notebook), so no chapter sees another's state;
- in a temporary working directory that holds only the notebook, the other files of its own folder (data it
  reads) and a copy of ``tests/`` (the registry a reference page imports), so no chapter reads another's files;
- with the network blocked inside the kernel: ``PYTHONPATH`` starts with a folder whose ``sitecustomize.py``
  makes ``socket.socket.connect`` and ``getaddrinfo`` refuse every address but the loopback one.

Each code cell's fresh outputs are then compared with the stored ones the way nbval compares them in strict
mode: nbval's own ``coalesce_streams`` and ``transform_streams_for_comparison``, the same keys left out
(metadata, execution counts, images, ...). No notebook carries an nbval marker that skips a cell or ignores
its output (``tests/test_notebook_markers.py`` keeps that so), and this test would honour one if it did.
"""

import functools
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbval.plugin import coalesce_streams, transform_streams_for_comparison

from conftest import BOOK, LONG, NOTEBOOKS, ROOT, nbval_options

# what nbval leaves out of the comparison when it runs without --nbdime (IPyNbFile.skip_compare)
SKIP_COMPARE = (
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
)
BLOCK_NETWORK = '''
"""Loaded by every Python started with this folder on PYTHONPATH: no network but the loopback."""
import ipaddress
import socket

_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo


def _is_local(host):
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(address):
    if isinstance(address, tuple) and not _is_local(address[0]):
        raise OSError(f"network access is blocked in this test (connect to {address[0]!r})")


def connect(self, address):
    _check(address)
    return _connect(self, address)


def connect_ex(self, address):
    _check(address)
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    if not _is_local(host.decode() if isinstance(host, bytes) else host):
        raise socket.gaierror(f"network access is blocked in this test (lookup of {host!r})")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
'''


@dataclass(frozen=True)
class CpuConfiguration:
    """One way torch can run on this machine: the kernels it picks (``capability``, as torch reports it) and the
    number of threads. ``env`` is what the kernel's environment sets (``ATEN_CPU_CAPABILITY`` left unset for the
    native kernels)."""

    capability: str
    threads: int
    env_capability: str | None

    @property
    def id(self) -> str:
        return f"{self.capability.lower()}-{self.threads}thread{'s' if self.threads > 1 else ''}"

    def env(self) -> dict[str, str]:
        threads = str(self.threads)
        env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        if self.env_capability is not None:
            env["ATEN_CPU_CAPABILITY"] = self.env_capability
        return env


@functools.cache  # each probe starts an interpreter and imports torch: once per value
def torch_capability(env_capability: str | None) -> str:
    """The CPU capability torch runs with under ``ATEN_CPU_CAPABILITY=env_capability`` (None: unset), read in a
    fresh interpreter: torch caps a request at what the CPU supports, and ignores a value it does not know."""
    env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
    if env_capability is not None:
        env["ATEN_CPU_CAPABILITY"] = env_capability
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def cpu_configurations() -> list[CpuConfiguration]:
    """default with 1 thread; in the 'long' profile also avx2 and avx512 with all threads where the CPU has them and
    they differ from native (native with all threads is ``pytest --nbval book``'s run). Requests the CPU cannot
    honour fall back to another capability and are dropped."""
    all_threads = os.cpu_count() or 1
    native = torch_capability(None)
    configurations = [CpuConfiguration(torch_capability("default"), 1, "default")]
    if native == configurations[0].capability and all_threads > 1:  # no vector kernels: vary the threads instead
        configurations.append(CpuConfiguration(native, all_threads, None))
    for request in ("avx2", "avx512") if LONG else ():
        capability = torch_capability(request)
        if capability.lower() == request and capability != native:
            configurations.append(CpuConfiguration(capability, all_threads, request))
    return configurations


CONFIGURATIONS = cpu_configurations()
PROBE = "import json, torch\nprint(json.dumps([torch.backends.cpu.get_cpu_capability(), torch.get_num_threads()]))"


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """A folder whose sitecustomize.py blocks the network; put it first on PYTHONPATH for the kernels."""
    folder = tmp_path_factory.mktemp("offline")
    (folder / "sitecustomize.py").write_text(BLOCK_NETWORK)
    return folder


@pytest.fixture
def offline_env(offline, monkeypatch):
    """The kernels this test starts inherit the environment: prepend the blocking folder to PYTHONPATH."""
    existing = [p for p in os.environ.get("PYTHONPATH", "").split(":") if p]
    monkeypatch.setenv("PYTHONPATH", ":".join([str(offline), *existing]))


def isolated_copy(notebook: Path, workdir: Path) -> Path:
    """Copy the notebook, the other files of its folder and tests/ under ``workdir``, mirroring the repository
    layout; return the copied notebook's path."""
    folder = workdir / notebook.parent.relative_to(ROOT)
    folder.mkdir(parents=True)
    for item in notebook.parent.iterdir():
        if item.is_file() and (item.suffix != ".ipynb" or item == notebook):
            shutil.copy2(item, folder / item.name)
    shutil.copytree(ROOT / "tests", workdir / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    return folder / notebook.name


def execute(path: Path) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` top to bottom in a fresh kernel, its folder as the working directory."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def comparable(outputs: list) -> dict:
    """Outputs as nbval compares them: streams merged by name, each key (MIME types flattened) -> its values."""
    flat = defaultdict(list)
    for output in transform_streams_for_comparison(coalesce_streams([nbformat.from_dict(o) for o in outputs])):
        for key, value in output.items():
            if key == "data":
                for mime, data in value.items():
                    if mime not in SKIP_COMPARE:
                        flat[mime].append(data)
            elif key not in SKIP_COMPARE:
                flat[key].append(value)
    return dict(flat)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: str(path.relative_to(BOOK)))
@pytest.mark.parametrize("cpu", CONFIGURATIONS, ids=lambda cpu: cpu.id)
def test_notebook_reproduces_its_outputs_alone_offline_on_every_cpu_kernel(
    cpu, notebook, tmp_path, offline_env, monkeypatch
):
    for name, value in cpu.env().items():
        monkeypatch.setenv(name, value)
    if cpu.env_capability is None:
        monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    stored = nbformat.read(notebook, as_version=4)
    copy = isolated_copy(notebook, tmp_path)
    with_probe = nbformat.read(copy, as_version=4)
    with_probe.cells.append(nbformat.v4.new_code_cell(PROBE))
    nbformat.write(with_probe, copy)
    fresh = execute(copy)
    probe = fresh.cells.pop()
    assert json.loads(probe.outputs[0]["text"]) == [cpu.capability, cpu.threads], "the kernel ran another configuration"
    where = f"{notebook.relative_to(ROOT)} under {cpu.id}"
    for number, (old, new) in enumerate(zip(stored.cells, fresh.cells, strict=True)):
        options = nbval_options(old)
        if old.cell_type != "code" or options.get("skip") or options.get("check") is False:
            continue
        if old.execution_count is None:  # nbval does not compare a cell stored unrun
            continue
        expected, got = comparable(old.outputs), comparable(new.outputs)
        assert got == expected, f"{where}, cell {number}: outputs differ from the stored ones"


def test_the_configurations_cover_default_one_thread_and_the_other_vector_kernels():
    """The list is made from the machine, so check its shape: the portable kernels single-threaded, then the vector
    kernels other than the native ones (which ``pytest --nbval book`` runs) with every thread, or on a machine
    without vector kernels the portable ones with every thread; no configuration twice."""
    default, *others = CONFIGURATIONS
    assert (default.capability, default.threads) == ("DEFAULT", 1)
    native = torch_capability(None)
    for other in others:
        assert other.threads == (os.cpu_count() or 1)
        assert other.capability in ("AVX2", "AVX512") and other.capability != native or other.capability == native
    assert len({cpu.id for cpu in CONFIGURATIONS}) == len(CONFIGURATIONS)


def test_the_kernel_cannot_reach_the_network(tmp_path, offline_env):
    """The block works: a non-loopback connection and a name lookup fail inside the kernel; loopback works."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(textwrap.dedent(source))
        for source in (
            """
        import socket
        try:
            socket.socket().connect(("192.0.2.1", 80))
        except OSError as exc:
            print("refused:", exc)
        """,
            """
        try:
            socket.getaddrinfo("pypi.org", 443)
        except OSError as exc:
            print("refused:", exc)
        """,
            """
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        client = socket.create_connection(server.getsockname(), timeout=2)
        print("loopback connected")
        """,
        )
    ]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    ran = execute(path)
    texts = ["".join(o.get("text", "") for o in cell.outputs) for cell in ran.cells]
    assert "refused: network access is blocked in this test (connect to '192.0.2.1')" in texts[0]
    assert "refused: network access is blocked in this test (lookup of 'pypi.org')" in texts[1]
    assert texts[2] == "loopback connected\n"


def test_the_comparison_fails_on_a_changed_output():
    """The comparison sees a changed number in a stream, and ignores what nbval ignores (execution counts)."""
    stored = [nbformat.v4.new_output("stream", name="stdout", text="loss 0.5000\n")]
    same = [
        nbformat.v4.new_output("stream", name="stdout", text="loss "),
        nbformat.v4.new_output("stream", name="stdout", text="0.5000\n"),
    ]
    changed = [nbformat.v4.new_output("stream", name="stdout", text="loss 0.5001\n")]
    assert comparable(same) == comparable(stored)
    assert comparable(changed) != comparable(stored)
    result = nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=3)
    assert comparable([result]) == comparable([{**result, "execution_count": 7}])
