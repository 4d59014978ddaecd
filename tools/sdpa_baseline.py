#!/usr/bin/env python3
"""sdpa_baseline.py: PyTorch's scaled_dot_product_attention over an fp16 KV cache, timed the way
rotorbench times its kernels, so that rotorbench's fp16-cache attention can be shown to be a fair
baseline (issue 28, point 4).

One decode step: q [B, H, 1, d], K and V [B, kv_heads, T, d], all fp16 on the GPU; grouped-query
heads through enable_gqa=True (torch >= 2.5), else K and V expanded with repeat_interleave before
the timing (the record then says so: SDPA reads H / kv_heads times the cache bytes).

Timing (docs/MEASUREMENT.md's rules, with CUDA events):
  hot:  after a warm-up, a batch of launches (about 1 ms of GPU time, at most 200) replayed
        from a CUDA graph between two events, divided by the batch; --samples samples;
  cold: the L2 flushed by zeroing a buffer of twice its size, then one launch between two
        events; --samples samples.
  Each timed region is enqueued behind a spin kernel (torch.cuda._sleep, about 200 us), so
  the host's launch latency stays out of it.
Median, min and max in microseconds, and the bytes read (K and V once, plus q and o).

usage: tools/sdpa_baseline.py [--shapes B,H,KV,T,d;...] [--out FILE.json] [--samples N]
Writes FILE.json (device, torch and CUDA versions, the SDPA backends enabled, per shape the
timings) and FILE.csv beside it (one row per shape, for plots/kv_attention.sh), each through a
temporary name renamed into place. Exit status: 0 done or skipped (no torch / no CUDA device:
one line says so), 1 a failure, 2 a bad argument.
"""
import argparse
import json
import os
import statistics
import sys

DEFAULT_SHAPES = ";".join(
    [f"1,32,32,{t},128" for t in (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)] + ["16,32,32,8192,128"]
)


def parse_shapes(text):
    shapes = []
    for item in text.split(";"):
        item = item.strip()
        if not item:
            continue
        parts = item.split(",")
        if len(parts) != 5:
            raise ValueError(f"shape '{item}': want B,H,kv_heads,T,d")
        try:
            B, H, KV, T, d = (int(p) for p in parts)
        except ValueError:
            raise ValueError(f"shape '{item}': not five integers") from None
        if min(B, H, KV, T, d) < 1:
            raise ValueError(f"shape '{item}': every value must be at least 1")
        if H % KV:
            raise ValueError(f"shape '{item}': H = {H} is not a multiple of kv_heads = {KV}")
        shapes.append((B, H, KV, T, d))
    if not shapes:
        raise ValueError("no shapes given")
    return shapes


def write_atomic(path, text):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default=DEFAULT_SHAPES, help="B,H,kv_heads,T,d;... (default: B=1 H=32 d=128 "
                    "T=1k..128k and B=16 T=8k)")
    ap.add_argument("--out", default="results/sdpa_baseline.json", help="the JSON result (a .csv goes beside it)")
    ap.add_argument("--samples", type=int, default=100, help="hot and cold samples per shape (>= 10)")
    args = ap.parse_args()
    try:
        shapes = parse_shapes(args.shapes)
        if args.samples < 10:
            raise ValueError(f"--samples {args.samples}: at least 10")
        if not args.out.endswith(".json"):
            raise ValueError(f"--out {args.out}: the result's name must end in .json")
    except ValueError as e:
        print(f"sdpa_baseline: {e}", file=sys.stderr)
        return 2

    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("sdpa_baseline: PyTorch is not installed: skipped")
        return 0
    if not torch.cuda.is_available():
        print("sdpa_baseline: no CUDA device visible to PyTorch: skipped")
        return 0

    dev = torch.device("cuda")
    props = torch.cuda.get_device_properties(dev)
    l2 = getattr(props, "L2_cache_size", 0) or (64 << 20)
    flush = torch.empty(2 * l2, dtype=torch.uint8, device=dev)
    try:
        F.scaled_dot_product_attention(*(torch.zeros(1, 2, 1, 8, device=dev, dtype=torch.float16),) * 3,
                                       enable_gqa=False)
        has_gqa = True
    except TypeError:
        has_gqa = False

    # A spin kernel ahead of each timed region keeps the host's launch latency out of it, as
    # rotorbench's blocking kernel does: the GPU starts the region only after it is all enqueued.
    spin_cycles = int(getattr(props, "clock_rate", 2_000_000) * 1e3 * 200e-6) if hasattr(props, "clock_rate") \
        else 400_000

    def hold():
        torch.cuda._sleep(spin_cycles)

    def time_hot(fn, samples):
        """Batches of launches replayed from a CUDA graph (no host cost between them); plain
        launches behind the spin kernel when the capture fails. Returns (samples, batch, how)."""
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(10):
            fn()
        hold()
        start.record()
        fn()
        end.record()
        end.synchronize()
        one = max(start.elapsed_time(end) * 1e3, 1.0)  # us
        batch = max(1, min(200, int(1000.0 / one)))
        run, how = None, "cuda-graph"
        try:
            g = torch.cuda.CUDAGraph()
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                fn()  # warm-up on a side stream, as torch.cuda.graphs asks
            torch.cuda.current_stream().wait_stream(side)
            with torch.cuda.graph(g):
                for _ in range(batch):
                    fn()
            run = g.replay
        except Exception:  # noqa: BLE001 - any capture failure falls back to launches
            how = "launches behind a spin kernel"

            def run():
                for _ in range(batch):
                    fn()
        run()
        torch.cuda.synchronize()
        out = []
        for _ in range(samples):
            hold()
            start.record()
            run()
            end.record()
            end.synchronize()
            out.append(start.elapsed_time(end) * 1e3 / batch)
        return out, batch, how

    def time_cold(fn, samples):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        out = []
        for _ in range(samples):
            flush.zero_()
            hold()
            start.record()
            fn()
            end.record()
            end.synchronize()
            out.append(start.elapsed_time(end) * 1e3)
        return out

    def summary(xs):
        return {"median_us": statistics.median(xs), "min_us": min(xs), "max_us": max(xs)}

    records = []
    gen = torch.Generator(device=dev)
    gen.manual_seed(20261206)
    for (B, H, KV, T, d) in shapes:
        need = 2 * B * KV * T * d * 2 * (1 if has_gqa or KV == H else 1 + H // KV)
        free, _ = torch.cuda.mem_get_info()
        if need + (256 << 20) > free:
            print(f"sdpa_baseline: B={B} H={H} kv_heads={KV} T={T} d={d} needs {need} bytes of device memory; "
                  f"{free} are free: skipped", file=sys.stderr)
            continue
        q = torch.randn(B, H, 1, d, device=dev, dtype=torch.float16, generator=gen)
        k = torch.randn(B, KV, T, d, device=dev, dtype=torch.float16, generator=gen)
        v = torch.randn(B, KV, T, d, device=dev, dtype=torch.float16, generator=gen)
        how = "none"
        if KV != H:
            if has_gqa:
                how = "enable_gqa"
                fn = lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)  # noqa: E731
            else:
                how = "repeat_interleave (expanded before timing)"
                ke, ve = k.repeat_interleave(H // KV, dim=1), v.repeat_interleave(H // KV, dim=1)
                fn = lambda: F.scaled_dot_product_attention(q, ke, ve)  # noqa: E731
        else:
            fn = lambda: F.scaled_dot_product_attention(q, k, v)  # noqa: E731
        hot, batch, hot_how = time_hot(fn, args.samples)
        cold = time_cold(fn, args.samples)
        cache_bytes = 2 * B * KV * T * d * 2
        rec = {"B": B, "H": H, "kv_heads": KV, "T": T, "d": d, "gqa": how, "batch": batch, "hot_by": hot_how,
               "cache_bytes": cache_bytes, "bytes": cache_bytes + 2 * B * H * d * 2,
               "hot": summary(hot), "cold": summary(cold)}
        rec["gbps"] = rec["bytes"] / (rec["hot"]["median_us"] * 1e3)
        records.append(rec)
        print(f"sdpa_baseline: B={B} H={H} kv_heads={KV} T={T} d={d}: hot {rec['hot']['median_us']:.2f} us, "
              f"cold {rec['cold']['median_us']:.2f} us, {rec['gbps']:.0f} GB/s", file=sys.stderr)
        del q, k, v
        torch.cuda.empty_cache()

    result = {
        "tool": "tools/sdpa_baseline.py",
        "device": torch.cuda.get_device_name(dev),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "l2_bytes": l2,
        "sdpa_backends": {
            "flash": torch.backends.cuda.flash_sdp_enabled(),
            "mem_efficient": torch.backends.cuda.mem_efficient_sdp_enabled(),
            "math": torch.backends.cuda.math_sdp_enabled(),
        },
        "timing": {"hot": "a CUDA graph of a batch of launches between CUDA events, divided by the batch",
                   "cold": "L2 flushed (zeroing 2x its size), then one launch between CUDA events",
                   "held": "each region enqueued behind a spin kernel", "samples": args.samples},
        "records": records,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_atomic(args.out, json.dumps(result, indent=2) + "\n")
    rows = ["B,H,kv_heads,T,d,median_us,min_us,max_us,cold_median_us,cache_bytes,gbps"]
    for r in records:
        rows.append(f"{r['B']},{r['H']},{r['kv_heads']},{r['T']},{r['d']},{r['hot']['median_us']:.6g},"
                    f"{r['hot']['min_us']:.6g},{r['hot']['max_us']:.6g},{r['cold']['median_us']:.6g},"
                    f"{r['cache_bytes']},{r['gbps']:.6g}")
    write_atomic(args.out[: -len(".json")] + ".csv", "\n".join(rows) + "\n")
    print(f"sdpa_baseline: wrote {args.out} and its .csv ({len(records)} shapes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
