"""Pure, sans-IO protocol codecs: bytes in, typed frames out, and back.

Nothing in this package may import sockets, asyncio, Django or anything above it.
"""
