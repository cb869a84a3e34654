"""Test support for the Python bindings: a real relay process on 127.0.0.1:0 with Đồng Nai's
demo organisation, and the generated module on the import path.

Environment (set by scripts/ffi-test.sh): GIAOBAN_BINDINGS (folder holding giaoban_ffi.py and
the library) and GIAOBAN_RELAY_BIN (the giaoban-relay binary)."""

import os
import re
import subprocess
import sys
import threading

import pytest

sys.path.insert(0, os.environ.get("GIAOBAN_BINDINGS", "target/bindings/python"))


class Relay:
    """A `giaoban-relay serve --demo` process: its URL and the enrollment codes it printed
    (the provincial committee first, then three communes or wards)."""

    def __init__(self, binary, data_dir):
        self.binary = binary
        self.env = dict(os.environ, GIAOBAN_RELAY_LISTEN="127.0.0.1:0", GIAOBAN_RELAY_DATA_DIR=str(data_dir),
                        RUST_LOG="warn")
        self.proc = subprocess.Popen([binary, "serve", "--demo", "--demo-without-dispatch"], env=self.env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, encoding="utf-8")
        self.codes = []  # (unit name, code)
        self.url = None
        self.output = []
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.output.append(line)
                m = re.match(r"^  (.+?)\s+([0-9A-Z]{5}-[0-9A-Z]{5})\s*$", line)
                if m:
                    self.codes.append((m.group(1), m.group(2)))
                m = re.search(r"(http://127\.0\.0\.1:\d+)", line)
                if m and self.url is None:
                    self.url = m.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(60) or self.url is None:
            self.stop()
            raise RuntimeError("the relay did not start:\n" + "".join(self.output))

    def admin(self, *args):
        """Runs an operator command against the same data folder while the relay serves."""
        out = subprocess.run([self.binary, "admin", *args], env=self.env, capture_output=True, text=True,
                             encoding="utf-8", timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def stop(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    binary = os.environ.get("GIAOBAN_RELAY_BIN", "target/debug/giaoban-relay")
    r = Relay(binary, tmp_path_factory.mktemp("relay"))
    assert len(r.codes) >= 3, "".join(r.output)
    yield r
    r.stop()
