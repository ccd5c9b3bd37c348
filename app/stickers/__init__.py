"""Sticker packs: administered packs, users' collections, sticker messages."""
