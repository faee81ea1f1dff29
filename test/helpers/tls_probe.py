"""TLS and plaintext probes of hotbridge's listeners, with Python's ssl (OpenSSL) as an independent client.

Usage:
  tls_probe.py tls HOST PORT VERSION CA_FILE SERVER_NAME
      an implicit-TLS handshake at exactly VERSION (TLSv1, TLSv1_1, TLSv1_2, TLSv1_3); reads the greeting.
  tls_probe.py pop3 HOST PORT USER PASSWORD CA_FILE SERVER_NAME
      plain POP3: CAPA, a login without TLS, then a new connection with STLS and the login inside it.
  tls_probe.py raw HOST PORT
      connects and reads what comes within 5 s: the greeting, or nothing when the server closes at once.
  tls_probe.py imap-plain HOST PORT USER PASSWORD
      imaplib LOGIN without TLS (allowed on loopback, or where allow_plaintext_lan is on).
Prints one JSON object.
"""
import imaplib
import json
import poplib
import socket
import ssl
import sys

mode = sys.argv[1]
result = {}


def context(version, cafile, legacy):
    ctx = ssl.create_default_context(cafile=cafile)
    if version:
        v = getattr(ssl.TLSVersion, version)
        ctx.minimum_version = v
        ctx.maximum_version = v
    if legacy:
        # OpenSSL 3 allows TLS 1.0/1.1 only at security level 0 (their handshakes sign with SHA-1/MD5).
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


if mode == "tls":
    host, port, version, cafile, name = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
    ctx = context(version, cafile, version in ("TLSv1", "TLSv1_1"))
    try:
        with socket.create_connection((host, port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as tls:
                result["version"] = tls.version()
                result["greeting"] = tls.recv(200).decode("latin1").split("\r\n")[0]
                result["ok"] = True
    except (ssl.SSLError, OSError) as err:
        result["ok"] = False
        result["error"] = str(err)
elif mode == "pop3":
    host, port, user, password, cafile, name = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7]
    pop = poplib.POP3(host, port, timeout=10)
    result["capa"] = sorted(pop.capa().keys())
    try:
        pop.user(user)
        pop.pass_(password)
        result["plain_login"] = "accepted"
    except poplib.error_proto as err:
        result["plain_login"] = err.args[0].decode()
    pop.close()
    pop = poplib.POP3(host, port, timeout=10)
    pop.stls(context=context(None, cafile, False))
    result["tls_version"] = pop.sock.version()
    pop.user(user)
    result["tls_login"] = pop.pass_(password).decode()
    result["stat"] = list(pop.stat())
    pop.quit()
elif mode == "raw":
    host, port = sys.argv[2], int(sys.argv[3])
    with socket.create_connection((host, port), timeout=5) as raw:
        try:
            data = raw.recv(200)
            result["data"] = data.decode("latin1")
            result["closed"] = data == b""
        except ConnectionResetError:
            result["data"] = ""
            result["closed"] = True
        except socket.timeout:
            result["data"] = ""
            result["closed"] = False
elif mode == "imap-plain":
    host, port, user, password = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    imap = imaplib.IMAP4(host, port, timeout=10)
    result["capabilities"] = list(imap.capabilities)
    try:
        result["login"] = imap.login(user, password)[0]
    except imaplib.IMAP4.error as err:
        result["login"] = str(err)
    imap.logout()
print(json.dumps(result))
