#!/usr/bin/env python3
"""Runs a service's ExecStart as systemd would, for tests on machines where
systemd is not PID 1: a notification socket (SO_PASSCRED) in NOTIFY_SOCKET,
the command in a new session, this process as a child subreaper (so the
unit's main process, once the starter exits, is reaped here and its exit
status known, as systemd knows it), READY/MAINPID read from the socket, then
the stop sequence: ExecStop commands (with $MAINPID), the kill signal to the
main process (KillMode=mixed), ExecStopPost commands. Prints one JSON object.

usage: unit-harness.py --notify SOCK [--env K=V]... [--timeout S]
           [--stop JSON_ARGV]... [--kill-main SIG] [--kill-start SIG]
           [--stop-post JSON_ARGV]... [--no-wait-ready] [--delay S] -- ARGV...
"""
import argparse
import ctypes
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

p = argparse.ArgumentParser()
p.add_argument("--notify")
p.add_argument("--env", action="append", default=[])
p.add_argument("--timeout", type=float, default=60)
p.add_argument("--stop", action="append", default=[])
p.add_argument("--stop-post", action="append", default=[])
p.add_argument("--kill-main")
p.add_argument("--kill-start")
p.add_argument("--no-wait-ready", action="store_true")
p.add_argument("--delay", type=float, default=0)
p.add_argument("argv", nargs=argparse.REMAINDER)
a = p.parse_args()
argv = a.argv[1:] if a.argv and a.argv[0] == "--" else a.argv

PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

env = dict(os.environ)
for kv in a.env:
    k, _, v = kv.partition("=")
    env[k] = v

sock = None
if a.notify:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.bind("\0" + a.notify[1:] if a.notify.startswith("@") else a.notify)
    if not a.notify.startswith("@"):
        os.chmod(a.notify, 0o777)
    env["NOTIFY_SOCKET"] = a.notify

out = tempfile.TemporaryFile()
start = time.monotonic()
proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
result = {"start_pid": proc.pid, "messages": [], "ready": False, "mainpid": None, "exits": {}, "commands": [], "events": []}


def event(what):
    result["events"].append({"t": round(time.monotonic() - start, 3), "what": what})


def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if os.WIFEXITED(status):
            result["exits"][str(pid)] = {"code": os.WEXITSTATUS(status)}
        elif os.WIFSIGNALED(status):
            result["exits"][str(pid)] = {"signal": os.WTERMSIG(status)}
        event(f"exit {pid}")


def pump(timeout):
    if sock is None:
        time.sleep(timeout)
        reap()
        return
    r, _, _ = select.select([sock], [], [], timeout)
    if r:
        data, anc, _f, _a = sock.recvmsg(65536, socket.CMSG_SPACE(12))
        sender = None
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                sender = struct.unpack("iII", cdata[:12])[0]
        text = data.decode("utf-8", "replace")
        result["messages"].append({"pid": sender, "data": text})
        for line in text.split("\n"):
            if line.startswith("MAINPID="):
                result["mainpid"] = int(line[8:])
            if line == "READY=1":
                result["ready"] = True
                event("ready")
    reap()


def alive(pid):
    """Not reaped yet. A zombie counts as alive until reaped: a multi-threaded
    process shows its leader as a zombie before its last thread is gone, and
    only then can it be waited for."""
    if pid is None or str(pid) in result["exits"]:
        return False
    return os.path.exists(f"/proc/{pid}")


deadline = start + a.timeout
if a.notify and not a.no_wait_ready:
    while not result["ready"] and time.monotonic() < deadline:
        pump(0.05)
        # As systemd: the starter may exit once MAINPID names another process; READY is still awaited from it.
        if str(proc.pid) in result["exits"] and not alive(result["mainpid"]):
            pump(0.2)  # a message sent just before the starter exited
            if not alive(result["mainpid"]):
                break
end_delay = time.monotonic() + a.delay
while time.monotonic() < end_delay:
    pump(0.05)
main = result["mainpid"] or proc.pid
cmd_env = dict(env, MAINPID=str(main))
cmd_env.pop("NOTIFY_SOCKET", None)
if a.kill_start:
    os.kill(proc.pid, getattr(signal, "SIG" + a.kill_start))
    event("kill start")
for s in a.stop:
    r = subprocess.run(json.loads(s), env=cmd_env, capture_output=True, text=True)
    result["commands"].append({"argv": json.loads(s), "code": r.returncode, "stdout": r.stdout, "stderr": r.stderr})
    event("stop done")
if a.kill_main and alive(main):
    os.kill(main, getattr(signal, "SIG" + a.kill_main))
    event("kill main")
while time.monotonic() < deadline and (alive(main) or alive(proc.pid)):
    pump(0.05)
for s in a.stop_post:
    r = subprocess.run(json.loads(s), env=cmd_env, capture_output=True, text=True)
    result["commands"].append({"argv": json.loads(s), "code": r.returncode, "stdout": r.stdout, "stderr": r.stderr})
reap()
result["timed_out"] = time.monotonic() >= deadline
out.seek(0)
result["output"] = out.read().decode("utf-8", "replace")
print(json.dumps(result))
