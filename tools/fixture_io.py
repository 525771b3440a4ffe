"""Writing reference fixtures as safetensors from PyTorch, for the fixture scripts in this folder.

Every file is safetensors: an 8-byte little-endian header length, a JSON header, raw little-endian data; integer
tensors are stored as I32, every other one as F32 (references are computed in float64 and stored in float32).
"""
import json, os, struct
import torch


def save(path, tensors, meta):
    """Writes `tensors` (name -> torch tensor) and string metadata to `path`."""
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        t = t.detach().cpu().contiguous()
        t, dt = (t.to(torch.int32), "I32") if t.dtype in (torch.int64, torch.int32) else (t.to(torch.float32), "F32")
        b = t.numpy().tobytes()
        header[k] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
