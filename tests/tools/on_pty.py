#!/usr/bin/python3
"""on_pty.py OUTFILE CMD [ARG...]: runs CMD on a new pseudo-terminal (stdin, stdout and stderr),
copies what it writes there to OUTFILE as it comes, and exits with CMD's status (128 + signal
when a signal ended it). CMD is this process's only child, so a test can signal it directly
(unlike script(1), which reacts to a stopped child)."""
import os
import pty
import sys


def main():
    out_path, argv = sys.argv[1], sys.argv[2:]
    pid, master = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    with open(out_path, "wb", buffering=0) as out:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the terminal's last writer closed it
                break
            if not data:
                break
            out.write(data)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


if __name__ == "__main__":
    main()
