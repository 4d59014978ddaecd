# latency.gp: median latency against batch size N, log-log, one line per method, one panel per
# dtype, with the device-to-device copy of the same bytes as the floor.
# Parameters (gnuplot -e): dir (holds lat_<DTYPE>_<METHOD>.csv: N,median_us and copy_<DTYPE>.csv:
# N,copy_us, each with a header row), dts (dtypes, space-separated), methods, hascopy (0/1),
# setting (e.g. 'd = 128, 3 bits'), out, title, sub, pal; ylo, yhi (optional): the y range shared by the panels.
if (!exists('pal')) pal = 'plots/palette.gp'
set term pngcairo size 1280,768 enhanced font 'Sans,11'
load pal
set output out
n  = words(dts)
nm = words(methods)
L = 0.02; R = 0.80; T = 0.86; B = 0.10
w = (R - L) / n
set logscale xy 2
set logscale y 10
set format x '2^{%L}'
set format y '10^{%L}'
set xlabel 'batch size N (vectors)'
if (exists('ylo') && exists('yhi')) set yrange [ylo:yhi]
set multiplot title title."\n".sub noenhanced font 'Sans,13'
do for [k = 1:n] {
    dt = word(dts, k)
    set lmargin at screen L + (k - 1) * w + 0.065
    set rmargin at screen L + k * w - 0.005
    set tmargin at screen T
    set bmargin at screen B
    set title sprintf('%s, %s', dt, setting) noenhanced
    if (k == 1) { set ylabel 'median latency (µs)' } else { unset ylabel }
    if (k == n) { set key at screen R + 0.02, T left top } else { unset key }
    c = sprintf('%s/copy_%s.csv', dir, dt)
    plot for [i = 1:nm] sprintf('%s/lat_%s_%s.csv', dir, dt, word(methods, i)) using 1:2 \
             with linespoints lw 2 pt mpoint(word(methods, i)) ps 1.1 \
             lc rgb mcolor(word(methods, i)) title word(methods, i), \
         for [j = 1:hascopy] c using 1:2 with lines lw 3 dt 2 lc rgb '#000000' title 'D2D copy (floor)'
}
unset multiplot
