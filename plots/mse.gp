# mse.gp: per-element MSE against bits per coordinate, one panel per d, every method as points
# (spread a little along x so they do not hide each other) and the Lloyd-Max prediction as a line.
# Parameters (gnuplot -e): dir (holds mse_d<D>.csv: method,bits,mse and pred_d<D>.csv: bits,pred,
# each with a header row), ds (the d values, space-separated), methods (space-separated), out,
# title, sub, pal; ylo, yhi (optional): the y range shared by the panels.
if (!exists('pal')) pal = 'plots/palette.gp'
set term pngcairo size 1280,768 enhanced font 'Sans,11'
load pal
set output out
n  = words(ds)
nm = words(methods)
L = 0.02; R = 0.79; T = 0.86; B = 0.10
w = (R - L) / n
set logscale y
set format y '10^{%L}'
set xtics 1 nomirror
set mxtics 1
set xlabel 'bits per coordinate'
set multiplot title title."\n".sub noenhanced font 'Sans,13'
do for [k = 1:n] {
    d = word(ds, k)
    set lmargin at screen L + (k - 1) * w + 0.065
    set rmargin at screen L + k * w - 0.005
    set tmargin at screen T
    set bmargin at screen B
    set title sprintf('d = %s', d)
    if (k == 1) { set ylabel 'per-element MSE (unit-norm input vectors)' } else { unset ylabel }
    if (k == n) { set key at screen 0.985, T right top } else { unset key } # inside the picture
    f = sprintf('%s/mse_d%s.csv', dir, d)
    p = sprintf('%s/pred_d%s.csv', dir, d)
    set autoscale y  # stats filters by the y range: bits are checked against it here
    stats f using 2 nooutput
    if (exists('ylo') && exists('yhi')) { set yrange [ylo:yhi] }
    set xrange [STATS_min - 0.6 : STATS_max + 0.6]
    plot p using 1:2 with lines lw 2 lc rgb '#000000' dt 1 title 'Lloyd–Max prediction', \
         for [i = 1:nm] f using (strcol(1) eq word(methods, i) ? $2 + (i - (nm + 1) / 2.0) * 0.09 : NaN):3 \
             with points pt mpoint(word(methods, i)) ps 1.4 lc rgb mcolor(word(methods, i)) \
             title word(methods, i)
}
unset multiplot
