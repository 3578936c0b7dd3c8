"""llama.cpp's `llama-server`, built once from the package registry and cached (scripts/llama-server-build).

The backend tests (tests/test_backend_*.py) and the latency bench talk to a real llama.cpp server.
Its source comes from PyPI: the `llama-cpp-python` sdist vendors llama.cpp (vendor/llama.cpp),
with tools/server, convert_hf_to_gguf.py and gguf-py. The build (CPU, Release, the
`llama-server` target only, no curl/OpenSSL: it only listens on localhost) takes minutes on
2 cores, so it lands in a cache directory keyed by the sdist's version and is reused:

    $SANTA_LLAMA_CPP_CACHE, else <platformdirs user cache>/santa-lsp/llama.cpp, then /<version>/
        source/      the vendored llama.cpp tree (also where the converter is taken from)
        build/       cmake's build tree; build.log is its output
        llama-server the finished binary, written last, so its presence means "built"
        gguf/        checkpoints converted by llama.cpp's own converter (bench/gguf_convert.py),
                     keyed by a hash of the checkpoint's files

`LlamaServer` runs the binary on a GGUF on a free localhost port, for tests and the bench.

GGML_NATIVE stays at its default (on): the binary is tuned for the machine that built it, like
our own runtime's kernels; a cache copied to another CPU model should be deleted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx2
import platformdirs

LLAMA_CPP_PYTHON_VERSION = "0.3.36"  # the sdist whose vendor/llama.cpp is built
ENV_CACHE = "SANTA_LLAMA_CPP_CACHE"
ENV_JOBS = "SANTA_LLAMA_CPP_JOBS"  # parallel compile jobs; CI has 2 cores
VENDOR_PREFIX = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp/"
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",  # one self-contained binary that can be copied out of build/
    "-DLLAMA_CURL=OFF",  # no model downloads: we hand it a local GGUF
    "-DLLAMA_OPENSSL=OFF",  # plain HTTP on localhost
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
)


class BuildImpossible(RuntimeError):
    """This machine cannot build llama-server (no C++ compiler or no cmake); the message says which."""


def cache_dir() -> Path:
    base = os.environ.get(ENV_CACHE) or Path(platformdirs.user_cache_dir("santa-lsp", appauthor=False)) / "llama.cpp"
    return Path(base) / LLAMA_CPP_PYTHON_VERSION


def source_dir() -> Path:
    return cache_dir() / "source"


def server_binary() -> Path:
    return cache_dir() / "llama-server"


def check_toolchain() -> None:
    missing = [tool for tool in ("cmake", "c++") if shutil.which(tool) is None]
    if missing:
        raise BuildImpossible(f"cannot build llama-server: {' and '.join(missing)} not found on PATH")


def fetch_source() -> Path:
    """The vendored llama.cpp tree, downloaded with pip and unpacked once."""
    target = source_dir()
    if (target / "CMakeLists.txt").exists():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        _log(f"downloading the llama-cpp-python {LLAMA_CPP_PYTHON_VERSION} sdist (about 75 MB)")
        requirement = f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}"
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:", "--no-deps", "-d", tmp]
        subprocess.run([*pip, requirement], check=True)
        (sdist,) = Path(tmp).glob("*.tar.gz")
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(sdist) as archive:
            members = [m for m in archive.getmembers() if m.name.startswith(VENDOR_PREFIX)]
            archive.extractall(unpacked, members=members, filter="data")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(unpacked / VENDOR_PREFIX, target)
    return target


def build_server(jobs: int | None = None) -> Path:
    """The path of a built llama-server: the cached one, or one built now (minutes)."""
    binary = server_binary()
    if binary.exists():
        return binary
    check_toolchain()
    source = fetch_source()
    build = cache_dir() / "build"
    build.mkdir(parents=True, exist_ok=True)
    jobs = jobs or int(os.environ.get(ENV_JOBS, "0")) or os.cpu_count() or 2
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    log_path = cache_dir() / "build.log"
    _log(f"building llama-server with {jobs} jobs (minutes, once; output in {log_path})")
    started = time.monotonic()
    with log_path.open("w") as log:
        for command in (
            ["cmake", "-S", str(source), "-B", str(build), *generator, *CMAKE_OPTIONS],
            ["cmake", "--build", str(build), "--target", "llama-server", "-j", str(jobs)],
        ):
            if subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode != 0:
                raise RuntimeError(f"llama-server build failed: {' '.join(command[:3])}...; see {log_path}")
    partial = binary.with_suffix(".partial")
    shutil.copy2(build / "bin" / "llama-server", partial)
    partial.replace(binary)
    _log(f"built {binary} in {time.monotonic() - started:.0f} s")
    return binary


def convert_model(model_dir: Path) -> Path:
    """The checkpoint in `model_dir` as a GGUF (f32, so it computes what our fp32 runtime does),
    converted once by llama.cpp's converter from the same source tree as the server."""
    digest = hashlib.sha256()
    for path in sorted(model_dir.glob("*")):
        if path.suffix in (".json", ".safetensors"):
            digest.update(path.name.encode() + path.read_bytes())
    out = cache_dir() / "gguf" / f"{model_dir.name}-{digest.hexdigest()[:16]}.gguf"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    convert = [sys.executable, str(Path(__file__).with_name("gguf_convert.py")), str(fetch_source()), str(model_dir)]
    done = subprocess.run([*convert, str(partial)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"convert_hf_to_gguf.py failed on {model_dir}: {done.stderr.strip()[-2000:]}")
    partial.replace(out)
    return out


class LlamaServer:
    """llama-server on one GGUF, on a localhost port; stop() and start() again keep the port.

    The batch is half the context: llama-server's /infill takes the prefix and suffix from one
    batch and fills what the batch and the output leave of the context with the extra chunks
    (`n_ctx - n_batch - 2 * n_predict` tokens), so a batch as large as the context leaves none.

    One thread by default: ggml's worker threads spin while they wait for each other, and on a
    small machine busy with other work (CI's 2 cores) two of them made a 24-token answer take
    from 0.2 to over 10 s; one thread took 0.04 to 0.07 s.
    """

    HEALTH_TIMEOUT_S = 120

    def __init__(
        self, gguf: Path, log_path: Path, *args: str, context: int = 512, threads: int = 1, debug_slots: bool = False
    ) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.command = [
            str(build_server()), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(self.port),
            "-c", str(context), "-b", str(context // 2), "--parallel", "1", "--threads", str(threads), *args,
        ]  # fmt: skip
        # Slot debugging: /slots also shows each slot's last prompt and generated text.
        self.env = {**os.environ, "LLAMA_SERVER_SLOTS_DEBUG": "1"} if debug_slots else None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> LlamaServer:
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + self.HEALTH_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"llama-server exited with {self._process.returncode}: {self.log_tail()}")
            try:
                if httpx2.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx2.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"llama-server not healthy after {self.HEALTH_TIMEOUT_S} s: {self.log_tail()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _log(message: str) -> None:
    print(f"llama.cpp: {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build llama.cpp's llama-server once into the cache; print its path.")
    parser.add_argument("--jobs", type=int, help=f"parallel compile jobs (default ${ENV_JOBS} or all cores)")
    args = parser.parse_args(argv)
    try:
        print(build_server(args.jobs))
    except (BuildImpossible, RuntimeError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
