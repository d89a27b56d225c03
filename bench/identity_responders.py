#!/usr/bin/python3
"""The responders of the identity benchmark (bench/RESULTS.md, "Issue 12: ident and
hostname_lookups"): a DNS server on 127.0.0.1:PORT/udp answering the PTR of 127.0.0.1 (and
its A, for `double`) and an ident server on 127.0.0.1:113 answering USERID for every query,
as the integration tests' responders do. Runs until killed. Needs root (port 113) and
python3-dnslib."""
import asyncio
import re
import sys

from dnslib import A, PTR, QTYPE, RCODE, RR, DNSRecord


class Dns(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.t = transport

    def datagram_received(self, data, addr):
        q = DNSRecord.parse(data)
        name, qtype = str(q.q.qname), QTYPE[q.q.qtype]
        r = q.reply()
        if qtype == "PTR" and name == "1.0.0.127.in-addr.arpa.":
            r.add_answer(RR(name, QTYPE.PTR, rdata=PTR("client.test."), ttl=300))
        elif qtype == "A" and name == "client.test.":
            r.add_answer(RR(name, QTYPE.A, rdata=A("127.0.0.1"), ttl=300))
        else:
            r.header.rcode = RCODE.NXDOMAIN
        self.t.sendto(r.pack(), addr)


async def ident(reader, writer):
    try:
        line = await reader.readline()
        m = re.match(rb"^(\d+) , (\d+)\r\n$", line)
        if m:
            writer.write(b"%s , %s : USERID : UNIX : bench\r\n" % (m.group(1), m.group(2)))
            await writer.drain()
    except OSError:
        pass
    writer.close()


async def main(port):
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Dns, local_addr=("127.0.0.1", port))
    srv = await asyncio.start_server(ident, "127.0.0.1", 113, backlog=4096, reuse_address=True)
    print("dns 127.0.0.1:%d, ident 127.0.0.1:113" % port, flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5300))
