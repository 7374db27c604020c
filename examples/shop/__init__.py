"""A small shop: a sign-up flow and a daily digest, served with aiohttp."""
