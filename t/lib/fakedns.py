# t/lib/fakedns.py: a tiny UDP DNS server for the resolver tests.
#   dns = FakeDNS({'db.test': ['127.0.0.1', '::1']}, nx=['nx.test'],
#                 hang=['hang.test']).start()
#   ... --dns-server dns.addr ...
# A and AAAA answers from the table; names in nx get NXDOMAIN; names in hang
# get no answer at all (a query stays in flight); anything else NXDOMAIN.
"""Fake DNS server (UDP, A/AAAA only)."""

import socket
import struct
import threading

QTYPE_A = 1
QTYPE_AAAA = 28


class FakeDNS:
    def __init__(self, records=None, nx=(), hang=()):
        self.records = {k.lower().rstrip('.'): v for k, v in (records or {}).items()}
        self.nx = {n.lower() for n in nx}
        self.hang = {n.lower() for n in hang}
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', 0))
        self.port = self.sock.getsockname()[1]
        self.addr = '127.0.0.1:%d' % self.port
        self._stop = False
        self._t = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self._t.start()
        return self

    def stop(self):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass

    @staticmethod
    def _parse_name(data, off):
        labels = []
        while True:
            n = data[off]
            off += 1
            if n == 0:
                break
            labels.append(data[off:off + n].decode('ascii', 'replace'))
            off += n
        return '.'.join(labels).lower(), off

    def _answer(self, data):
        qid, flags, qd = struct.unpack('!HHH', data[:6])
        name, off = self._parse_name(data, 12)
        qtype, qclass = struct.unpack('!HH', data[off:off + 4])
        question = data[12:off + 4]
        self.queries.append((name, qtype))
        if name in self.hang:
            return None
        answers = []
        rcode = 0
        if name in self.records:
            for ip in self.records[name]:
                if qtype == QTYPE_A and ':' not in ip:
                    answers.append((QTYPE_A, socket.inet_pton(socket.AF_INET, ip)))
                elif qtype == QTYPE_AAAA and ':' in ip:
                    answers.append((QTYPE_AAAA, socket.inet_pton(socket.AF_INET6, ip)))
        else:
            rcode = 3   # NXDOMAIN
        rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
        out = struct.pack('!HHHHHH', qid, rflags, 1, len(answers), 0, 0) + question
        for t, rdata in answers:
            out += struct.pack('!HHHIH', 0xc00c, t, 1, 60, len(rdata)) + rdata
        return out

    def _serve(self):
        while not self._stop:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            try:
                resp = self._answer(data)
            except (IndexError, struct.error):
                continue
            if resp is not None:
                try:
                    self.sock.sendto(resp, peer)
                except OSError:
                    pass
