"""make_largenorm.py: writes largenorm.npy, rows of large norm for the GPU/CPU agreement test
(configs/largenorm.json, tests/gpu/test_backend.c): shape [256, 128], fp32, Gaussian rows scaled
to norms log-spaced from 1 (row 0) to 100 (row 255), from a fixed seed. A real model's K rows
have norms 10-20; unit-norm inputs never show the fp16 residues of large norms (harness/agree.h).
Plain Python, no NumPy; run from this folder:
    python3 make_largenorm.py"""
import math
import random
import struct

N, D = 256, 128
rnd = random.Random(20261206)
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (N, D)
header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
with open("largenorm.npy", "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    for i in range(N):
        g = [rnd.gauss(0, 1) for _ in range(D)]
        s = 100.0 ** (i / (N - 1)) / math.sqrt(sum(v * v for v in g))
        f.write(struct.pack("<%df" % D, *[v * s for v in g]))
