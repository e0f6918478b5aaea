"""Sensitive-technology screening: an aid for officials, not legal advice."""
