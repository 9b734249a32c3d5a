#!/usr/bin/env python3
"""Types a command line and a TAB into a real interactive bash; prints what bash made of it.

Usage: bash_complete.py SCRIPT LINE

SCRIPT is sourced first (a completion script; "" for none, when the system's
bash-completion loads it). The completed line is printed as readline holds it after the
TAB (a key bound with `bind -x` prints it), so no timing is involved. Stdlib only.
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
    # Ctrl-X q prints the line being edited between markers: sent after the TAB, it shows
    # the line once the completion has run (readline handles keys in order).
    setup += r"""bind -x '"\C-xq": printf "\n<<%s>>\n" "$READLINE_LINE"'; """
    # Split in the input, so that only the output of echo shows it whole.
    os.write(fd, (setup + "echo REA''DY\n").encode())
    read_until(fd, b"READY\r\n", 10)
    os.write(fd, line.encode() + b"\t\x18q")
    shown = read_until(fd, b">>", 10).decode(errors="replace")
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    start = shown.rfind("<<")
    end = shown.rfind(">>")
    if start < 0 or end < start:
        sys.exit(f"bash never printed the line: {shown!r}")
    print(shown[start + 2 : end])


if __name__ == "__main__":
    main()
