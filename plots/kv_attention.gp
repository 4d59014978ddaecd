# kv_attention.gp: decode attention time against the cached tokens T, log-log, one panel per
# bit width, one line per method over its compressed cache, with the fp16 cache (rotorbench's
# baseline kernel) and PyTorch's scaled_dot_product_attention over the same fp16 cache.
# Parameters (gnuplot -e): dir (holds kva_b<BITS>_<METHOD>.csv: T,median_us; kva_fp16.csv;
# kva_sdpa.csv, each with a header row, possibly empty), bitsl (bit widths, space-separated),
# methods, hassdpa (0/1), setting (e.g. 'B = 1, H = 32/32, d = 128'), out, title, sub, pal;
# ylo, yhi: the y range shared by the panels.
if (!exists('pal')) pal = 'plots/palette.gp'
set term pngcairo size 1280,768 enhanced font 'Sans,11'
load pal
set output out
n  = words(bitsl)
nm = words(methods)
L = 0.02; R = 0.80; T = 0.86; B = 0.10
w = (R - L) / n
set logscale x 2
set logscale y 10
set format x '2^{%L}'
set format y '10^{%L}'
set xlabel 'cached tokens T'
if (exists('ylo') && exists('yhi')) set yrange [ylo:yhi]
set multiplot title title."\n".sub noenhanced font 'Sans,13'
do for [k = 1:n] {
    b = word(bitsl, k)
    set lmargin at screen L + (k - 1) * w + 0.065
    set rmargin at screen L + k * w - 0.005
    set tmargin at screen T
    set bmargin at screen B
    set title sprintf('%s bits, %s', b, setting) noenhanced
    if (k == 1) { set ylabel 'median time per decode step (µs)' } else { unset ylabel }
    if (k == n) { set key at screen R + 0.02, T left top } else { unset key }
    plot for [i = 1:nm] sprintf('%s/kva_b%s_%s.csv', dir, b, word(methods, i)) using 1:2 \
             with linespoints lw 2 pt mpoint(word(methods, i)) ps 1.1 \
             lc rgb mcolor(word(methods, i)) title word(methods, i), \
         sprintf('%s/kva_fp16.csv', dir) using 1:2 with linespoints lw 3 dt 2 pt 6 lc rgb '#000000' \
             title 'fp16 cache (ours)', \
         for [j = 1:hassdpa] sprintf('%s/kva_sdpa.csv', dir) using 1:2 with linespoints lw 3 dt 3 pt 8 \
             lc rgb '#e377c2' title 'PyTorch SDPA (fp16)'
}
unset multiplot
