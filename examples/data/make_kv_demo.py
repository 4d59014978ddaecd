"""make_kv_demo.py: writes kv_demo.npy, a synthetic stand-in for a model's K cache, so that
configs/structure.json runs a file input without a model at hand. It is NOT real model data:
shape [layer = 2, token = 2048, d = 128], fp16, rows built the way K caches are often described
(a low-rank part, log-normal per-channel scales, two channels far larger than the rest, a
layer-dependent offset), from a fixed seed. Rows keep their norms. Plain Python, no NumPy:
    python3 examples/data/make_kv_demo.py
Your own dump: np.save("k.npy", k.float().cpu().numpy()) with k of shape [..., d]."""
import math
import random
import struct

L, T, D, R = 2, 2048, 128, 16
rnd = random.Random(20261128)
scale = [math.exp(0.8 * rnd.gauss(0, 1)) for _ in range(D)]
for j in (7, 91):
    scale[j] *= 15.0
U = [[rnd.gauss(0, 1) / math.sqrt(R) for _ in range(R)] for _ in range(D)]
rows = []
for layer in range(L):
    offset = [0.5 * rnd.gauss(0, 1) for _ in range(D)]
    for _ in range(T):
        c = [rnd.gauss(0, 1) for _ in range(R)]
        rows.append([scale[j] * (sum(U[j][k] * c[k] for k in range(R)) + 0.3 * rnd.gauss(0, 1) + offset[j])
                     for j in range(D)])
header = "{'descr': '<f2', 'fortran_order': False, 'shape': (%d, %d, %d), }" % (L, T, D)
pad = 64 - (10 + len(header) + 1) % 64
header = header + " " * pad + "\n"
with open("kv_demo.npy", "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    for r in rows:
        f.write(struct.pack("<%de" % D, *r))
