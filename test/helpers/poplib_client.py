"""Drives hotbridge's POP3 server with Python's poplib (a real, independent client).

Usage: poplib_client.py MODE HOST PORT USER PASSWORD OUT_DIR [CA_FILE]
  MODE plain: STAT, LIST, UIDL, TOP, APOP (must be refused cleanly), then RETR of every message into
              OUT_DIR/N.eml (lines joined with CRLF, as poplib undoes the dot-stuffing); no DELE.
  MODE stls:  STLS verified against CA_FILE (server name localhost), then the login and STAT.
  MODE dele:  DELE 1 then QUIT.
Prints one JSON object with what it saw.
"""
import json
import os
import poplib
import ssl
import sys

# poplib refuses lines over 2048 bytes; the corpus has a 5000-character line (over RFC 5322's 998, but real).
poplib._MAXLINE = 1024 * 1024

mode, host, port, user, password, out_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
result = {}
pop = poplib.POP3(host, port, timeout=15)
result["welcome"] = pop.getwelcome().decode()
result["capa"] = sorted(pop.capa().keys())

if mode == "plain":
    try:
        pop.apop(user, password)
        result["apop"] = "accepted"
    except poplib.error_proto as err:
        # poplib refuses by itself when the greeting has no APOP timestamp (RFC 1939 §7), as ours has none.
        message = err.args[0]
        result["apop"] = message.decode() if isinstance(message, bytes) else message
    # The command itself, as a client that ignores the greeting would send it: the server says -ERR.
    try:
        pop._shortcmd("APOP %s %s" % (user, "0" * 32))
        result["apop_command"] = "accepted"
    except poplib.error_proto as err:
        result["apop_command"] = err.args[0].decode()
    pop.user(user)
    result["pass"] = pop.pass_(password).decode()
    count, size = pop.stat()
    result["stat"] = [count, size]
    _, listing, _ = pop.list()
    result["list"] = [line.decode() for line in listing]
    _, uidls, _ = pop.uidl()
    result["uidl"] = [line.decode() for line in uidls]
    result["uidl1"] = pop.uidl(1).decode() if count else None
    if count:
        _, top, _ = pop.top(1, 0)
        result["top"] = [line.decode("latin1") for line in top]
    for n in range(1, count + 1):
        _, lines, octets = pop.retr(n)
        with open(os.path.join(out_dir, f"{n}.eml"), "wb") as f:
            f.write(b"".join(line + b"\r\n" for line in lines))
    result["quit"] = pop.quit().decode()
elif mode == "stls":
    context = ssl.create_default_context(cafile=sys.argv[7])
    result["stls"] = pop.stls(context=context).decode()
    result["cipher"] = pop.sock.version()
    result["capa_after"] = sorted(pop.capa().keys())
    pop.user(user)
    result["pass"] = pop.pass_(password).decode()
    result["stat"] = list(pop.stat())
    result["quit"] = pop.quit().decode()
elif mode == "dele":
    pop.user(user)
    pop.pass_(password)
    result["dele"] = pop.dele(1).decode()
    result["quit"] = pop.quit().decode()
print(json.dumps(result))
