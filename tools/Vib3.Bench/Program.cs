using Vib3.Bench;

// vib3-bench store   — page store: conversion, cold and warm reads vs a plain sequential read
// vib3-bench forward — forward pass: vib3 vs llama.cpp, prefill and decode tok/s at f32, f16 and q8_0
// vib3-bench serve   — continuous batching: aggregate tok/s of 1, 8, 32 concurrent streams, vs llama.cpp batching as many sequences
// vib3-bench policies — cache policies (LRU, LFRU, Belady's optimum) replayed on a page trace of vib3 bench --trace
// vib3-bench kernels — block-quantised matvec / batched matmul kernels per dtype vs llama.cpp's row kernels
// vib3-bench tiers   — out-of-core decode per RAM budget vs the disk-bandwidth bound and llama.cpp (mmap), under one cgroup limit
return args.FirstOrDefault() switch
{
    "store" => StoreBench.Run(args[1..]),
    "forward" => ForwardBench.Run(args[1..]),
    "serve" => ServeBench.Run(args[1..]),
    "policies" => PolicyBench.Run(args[1..]),
    "tiers" => TiersBench.Run(args[1..]),
    "kernels" => KernelBench.Run(args[1..]),
    TiersLlamaWorker.Mode => TiersLlamaWorker.Run(args[1..]), // hidden: tiers' llama.cpp child
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: vib3-bench store [--size-mb N] [--repeat N] [--dir PATH]");
    Console.Error.WriteLine("       vib3-bench forward [--shape mixtral|kimi] [--dtypes f32,f16,q8_0,q6_k,q4_k_m,...] [--layers 8] [--prompt 64] [--gen 64] [--threads 2] [--repeat 3] [--dir PATH]");
    Console.Error.WriteLine("       vib3-bench serve [--via engine|http] [--dtype q4_k_m|q8_0|...] [--streams 1,8,32] [--layers 8] [--prompt 32] [--gen 64] [--threads 2] [--repeat 3] [--dir PATH]");
    Console.Error.WriteLine("       vib3-bench policies --trace FILE [--budget-pages N,... | --budget-fraction 0.15,0.3,0.5] [--half-life H] [--tie-width W]");
    Console.Error.WriteLine("       vib3-bench policies --record FILE --data-dir D --model M --prompt TEXT [--gen-tokens 256] [--temperature 0.8] [--seed 1]");
    Console.Error.WriteLine("       vib3-bench kernels [--dtypes q4_k,q6_k,...] [--rows 14336] [--cols 4096] [--streams 32] [--threads 2] [--repeat 5] [--mib 512]");
    Console.Error.WriteLine("       vib3-bench tiers [--shape mixtral|kimi] [--layers 8] [--dtype f32|q8_0|q4_k_m|...] [--budgets 100,50,30,15|8G] [--prompt 16] [--gen 32] [--llama-gen 8] [--llama-repack on|off] [--repeat 1] [--threads 2] [--cache-policy lfru] [--headroom-mb 256] [--trace FILE] [--timeout-s 600] [--vib3 PATH] [--dir PATH]");
    return 2;
}
