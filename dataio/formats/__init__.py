"""File formats: parsers shared by decoders, direct IO helpers and executors.

Files:
    safetensors.py  header parsing and zero-copy tensor views (the format's own layout)
"""
