#!/usr/bin/env python3
"""A TCP proxy on loopback that delays every chunk in both directions, to measure
mailcheck under network latency (tc netem is not available here).

Listens on --listen (a loopback address) for each of --ports and forwards to the same
port on --target, sleeping --delay-ms before passing on each chunk. Loopback only.
"""
import argparse
import asyncio
import ipaddress


async def pipe(reader, writer, delay):
    try:
        while data := await reader.read(65536):
            await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def serve(listen, target, port, delay):
    async def handle(cr, cw):
        try:
            sr, sw = await asyncio.open_connection(target, port)
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, sw, delay), pipe(sr, cw, delay))

    server = await asyncio.start_server(handle, listen, port)
    async with server:
        await server.serve_forever()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--delay-ms", type=float, required=True)
    ap.add_argument("--ports", required=True)
    a = ap.parse_args()
    for addr in (a.listen, a.target):
        if not ipaddress.ip_address(addr).is_loopback:
            raise SystemExit(f"{addr} is not a loopback address")
    ports = [int(p) for p in a.ports.split(",")]
    await asyncio.gather(*(serve(a.listen, a.target, p, a.delay_ms / 1000) for p in ports))


asyncio.run(main())
