# rd.gp: rate-distortion for one input: relative error, and the inner-product error when the
# run computed it, against the stored bits per coordinate, every method (HQMQ at each operating
# point) as points joined in bit order.
# Parameters (gnuplot -e): dir (holds rd_<method>.csv: bits_per_coord,rel_err,ip_err with a
# header row, sorted by bits), methods (space-separated), hasip (1: a second panel), out, title,
# sub, pal.
if (!exists('pal')) pal = 'plots/palette.gp'
set term pngcairo size 1280,768 enhanced font 'Sans,11'
load pal
set output out
nm = words(methods)
set logscale y
set format y '10^{%L}'
set xlabel 'stored bits per coordinate (codes + norm or radius)'
set key inside bottom left vertical noenhanced box opaque
set multiplot layout 1, (hasip ? 2 : 1) title title."\n".sub noenhanced font 'Sans,13'
set title 'relative error ‖x − x̂‖² / ‖x‖²'
set ylabel 'mean relative error'
plot for [i = 1:nm] sprintf('%s/rd_%s.csv', dir, word(methods, i)) using 1:2 with linespoints lw 1.5 \
     pt mpoint(word(methods, i)) ps 1.3 lc rgb mcolor(word(methods, i)) title word(methods, i)
if (hasip) {
    set title 'inner-product error E(⟨q,x⟩ − ⟨q,x̂⟩)² / E⟨q,x⟩²'
    set ylabel 'relative inner-product error'
    plot for [i = 1:nm] sprintf('%s/rd_%s.csv', dir, word(methods, i)) using 1:3 with linespoints lw 1.5 \
         pt mpoint(word(methods, i)) ps 1.3 lc rgb mcolor(word(methods, i)) title word(methods, i)
}
unset multiplot
