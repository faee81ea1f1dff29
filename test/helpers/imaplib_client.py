"""Drives hotbridge's IMAP server with Python's imaplib (a real, independent client).

Usage: imaplib_client.py HOST PORT USER PASSWORD MESSAGE_DIR
Appends every file of MESSAGE_DIR (sorted) to a new mailbox, fetches each back and reports as JSON
whether the bytes are identical, then runs a few other commands and reports their answers.
"""
import imaplib
import json
import os
import sys

host, port, user, password, message_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
result = {"messages": {}, "checks": {}}

imap = imaplib.IMAP4(host, port)
result["checks"]["capabilities"] = list(imap.capabilities)
typ, _ = imap.login(user, password)
result["checks"]["login"] = typ
typ, _ = imap.create('"Python/Round trip"')
result["checks"]["create"] = typ
typ, listing = imap.list('""', "Python/*")
result["checks"]["list"] = [line.decode() for line in listing if line]

names = sorted(os.listdir(message_dir))
for name in names:
    with open(os.path.join(message_dir, name), "rb") as f:
        raw = f.read()
    typ, data = imap.append('"Python/Round trip"', r"(\Seen)", None, raw)
    result["messages"][name] = {"append": typ, "appenduid": data[0].decode() if data and data[0] else None}

typ, data = imap.select('"Python/Round trip"')
result["checks"]["select"] = [typ, data[0].decode()]
for index, name in enumerate(names, start=1):
    with open(os.path.join(message_dir, name), "rb") as f:
        raw = f.read()
    # imaplib's append() turns bare LF into CRLF before sending (documented); compare with what it sent.
    sent = imaplib.MapCRLF.sub(imaplib.CRLF, raw)
    typ, data = imap.uid("FETCH", str(index), "(RFC822.SIZE BODY.PEEK[])")
    fetched = data[0][1]
    meta = data[0][0].decode()
    result["messages"][name].update({"fetch": typ, "identical": fetched == sent, "size": len(sent), "meta": meta})

typ, data = imap.search(None, "ALL")
result["checks"]["search_all"] = data[0].decode()
typ, data = imap.uid("SEARCH", "CHARSET", "UTF-8", "SUBJECT", "nested")
result["checks"]["search_subject"] = data[0].decode()
typ, data = imap.store("1", "+FLAGS", r"(\Deleted \Flagged)")
result["checks"]["store"] = [typ, [d.decode() for d in data if d]]
typ, data = imap.expunge()
result["checks"]["expunge"] = [typ, [d.decode() for d in data if d]]
typ, data = imap.status('"Python/Round trip"', "(MESSAGES UIDNEXT UNSEEN)")
result["checks"]["status"] = data[0].decode()
typ, data = imap.fetch("1", "(BODYSTRUCTURE ENVELOPE)")
result["checks"]["bodystructure"] = typ
imap.close()
typ, data = imap.logout()
result["checks"]["logout"] = typ
print(json.dumps(result))
