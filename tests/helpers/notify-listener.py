#!/usr/bin/env python3
"""A stand-in for systemd's notification socket, for tests: binds a unix
datagram socket (a path, or "@name" for an abstract one) with SO_PASSCRED,
prints {"ready": true} once bound, then one JSON line per datagram with the
sender's pid and uid as the kernel reports them (what systemd checks)."""
import ctypes
import json
import os
import signal
import socket
import struct
import sys

# Die with the test process that started us (PR_SET_PDEATHSIG), even if it never says stop.
ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)

addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
if not addr.startswith("@"):
    os.chmod(addr, 0o777)
print(json.dumps({"ready": True}), flush=True)
while True:
    data, anc, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = uid = None
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid, uid, _gid = struct.unpack("iII", cdata[:12])
    print(json.dumps({"pid": pid, "uid": uid, "data": data.decode("utf-8", "replace")}), flush=True)
