"""Runs a terminal program (mutt) in a pseudo-terminal until it exits, so tests can drive it with
its own `push` commands; exits with the program's exit code (124 when it did not finish in time) and
prints the end of what it showed on the screen, for the test's message when something went wrong."""
import os
import pty
import select
import signal
import sys
import time

args = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    # A clean slate: a test runner's process may block or ignore signals that a terminal program needs.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for number in range(1, signal.NSIG):
        try:
            signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    os.execvp(args[0], args)
deadline = time.time() + float(os.environ.get('PTY_TIMEOUT', '50'))
status = None
screen = b''
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.2)
    if ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        screen = (screen + data)[-4000:]
    done, code = os.waitpid(pid, os.WNOHANG)
    if done:
        status = code
        break
else:
    os.kill(pid, 9)
    print(screen.decode('utf-8', 'replace'))
    sys.exit(124)
if status is None:
    _, status = os.waitpid(pid, 0)
print(screen.decode('utf-8', 'replace'))
sys.exit(os.waitstatus_to_exitcode(status))
