"""The head-end: asyncio collector sessions, read plans, command queue."""
