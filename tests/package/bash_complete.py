#!/usr/bin/env python3
"""Types a command line and a TAB into a real interactive bash; prints what bash made of it.

Usage: bash_complete.py SCRIPT LINE

SCRIPT is sourced first (a completion script; "" for none, when the system's
bash-completion loads it). The completed line is printed once the terminal is quiet. Stdlib only.
"""

import os
import pty
import select
import sys
import time


def read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    buf = b""
    end = time.monotonic() + timeout
    while marker not in buf and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                break
    return buf


def read_quiet(fd: int, quiet: float, timeout: float) -> bytes:
    """What `fd` shows until nothing new came for `quiet` seconds (at most `timeout`)."""
    buf = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], quiet)
        if not ready:
            break
        try:
            buf += os.read(fd, 4096)
        except OSError:
            break
    return buf


def main() -> None:
    script, line = sys.argv[1], sys.argv[2]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
    setup = "PS1='$ '; "
    if script:
        setup += f"source {script}; "
    else:
        setup += "source /usr/share/bash-completion/bash_completion; "
    # Split in the input, so that only the output of echo shows it whole.
    os.write(fd, (setup + "echo REA''DY\n").encode())
    read_until(fd, b"READY\r\n", 10)
    read_quiet(fd, 0.2, 2)
    os.write(fd, line.encode() + b"\t")
    # Bash echoes the typed line and the completion; it is done once the terminal is quiet.
    shown = read_quiet(fd, 0.3, 5)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    # The bell bash rings when nothing (or more than one thing) completes is not text.
    text = shown.decode(errors="replace").replace("\x07", "")
    print(text.splitlines()[-1] if text.strip() else "")


if __name__ == "__main__":
    main()
